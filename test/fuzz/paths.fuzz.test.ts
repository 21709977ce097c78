import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { libLivepatch, samples } from '../helpers/env.js';
import { builtSplit, copyBuilt, type BuiltSplit } from './built-fixture.js';
import { describeFailure, fuzzSeed, judge, summary, type CaseOutcome } from './driver.js';
import { hostilePath } from './path-values.js';
import { fuzzCases, fuzzSeeds, hex, type Rng } from './rng.js';
import { runInProcess } from './run.js';
import { Sandbox } from './sandbox.js';
import { createNodes, refusalViolations, targetPathViolations, VALID_MODULE, writeWorkspace } from './workspace.js';

/**
 * Fuzzing every path klp-split reads from data: a manifest's part files,
 * header and includes (split and convert over a stale manifest, verify),
 * a build record's ko, symvers, layoutModule and release (verify,
 * simulate), a marker's source (the Nx plugin), and the #include of a
 * wrapper livepatch (split). Each gets `..`, absolute paths, symbolic links
 * pointing out, NUL, very long names, `.` and wrong types. Oracles: the
 * common ones; above all nothing outside the output is written, deleted or
 * read, and the sentinel's secret is never printed.
 */

const CLASS = 'paths';
const SEEDS = fuzzSeeds([0x9a7b0001, 0x9a7b0002]);
const CASES = fuzzCases(25);

type Json = Record<string, unknown> & { parts?: Record<string, unknown>[]; modules?: Record<string, unknown>[] };

function setField(rng: Rng, obj: Json, fields: string[], value: unknown): string {
  const field = rng.pick(fields);
  if (field === 'parts.file') {
    const parts = obj.parts ?? [];
    const i = rng.int(Math.max(1, parts.length));
    if (parts[i]) parts[i]!.file = value;
    return `parts[${i}].file`;
  }
  if (field === 'modules.ko') {
    const mods = obj.modules ?? [];
    const i = rng.int(Math.max(1, mods.length));
    if (mods[i]) mods[i]!.ko = value;
    return `modules[${i}].ko`;
  }
  if (field === 'includes') {
    obj.includes = [value];
    return 'includes[0]';
  }
  obj[field] = value;
  return field;
}

const short = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 40)}...(${s.length} chars)` : s;
};

async function splitOverStaleManifest(sandbox: Sandbox, rng: Rng): Promise<CaseOutcome> {
  const out = join(sandbox.work, 'out');
  const first = rng.pick(['livepatch-shadow-fix1.c', 'livepatch-callbacks-demo.c']);
  const again = rng.pick(['livepatch-shadow-fix1.c', 'livepatch-callbacks-demo.c', 'livepatch-sample.c']);
  await runInProcess(['split', samples(first), '--out', out, '--all-includes']);
  const manifestPath = join(out, 'klp-split.json');
  const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as Json;
  const p = hostilePath(rng, out, sandbox, 'victim');
  const field = setField(rng, m, ['parts.file', 'parts.file', 'header', 'includes'], p.value);
  writeFileSync(manifestPath, JSON.stringify(m, null, 2));
  const args = ['split', samples(again), '--out', out, '--all-includes', ...(rng.chance(0.3) ? ['--force'] : [])];
  const { violations } = await judge(sandbox, [out], () => runInProcess(args));
  return { what: `split ${first} then ${again}, stale manifest ${field} = ${short(p.value)} (${p.label})`, violations, commands: [args] };
}

async function convertOverStaleManifest(sandbox: Sandbox, rng: Rng): Promise<CaseOutcome> {
  const dir = join(sandbox.work, 'conv');
  mkdirSync(dir);
  for (const f of ['Makefile', 'livepatch-shadow-fix1.c', 'livepatch-shadow-mod.c']) cpSync(samples(f), join(dir, f));
  const p = hostilePath(rng, dir, sandbox, 'victim');
  let what: string;
  if (rng.chance(0.5)) {
    // A split's manifest left in the directory.
    const m: Json = { manifestVersion: 1, patch: 'stale', source: 'stale.c', objNames: [], exports: [], warnings: [], parts: [{ object: 'vmlinux', module: 'stale', file: 'stale.c', funcs: [], callbacks: [] }] };
    const field = setField(rng, m, ['parts.file', 'header', 'includes'], p.value);
    writeFileSync(join(dir, 'klp-split.json'), JSON.stringify(m, null, 2));
    what = `convert with a stale klp-split.json, ${field} = ${short(p.value)} (${p.label})`;
  } else {
    await runInProcess(['convert', dir, '--all-includes']);
    const mp = join(dir, 'livepatch-shadow-fix1.klp-split.json');
    const m = JSON.parse(readFileSync(mp, 'utf8')) as Json;
    const field = setField(rng, m, ['parts.file', 'header', 'includes'], p.value);
    writeFileSync(mp, JSON.stringify(m, null, 2));
    what = `convert twice, the first's manifest ${field} = ${short(p.value)} (${p.label})`;
  }
  const args = ['convert', dir, '--all-includes'];
  const { violations } = await judge(sandbox, [dir], () => runInProcess(args));
  return { what, violations, commands: [args] };
}

async function verifyBuilt(sandbox: Sandbox, rng: Rng, built: BuiltSplit): Promise<CaseOutcome> {
  const out = copyBuilt(built, join(sandbox.work, 'out'));
  let what: string;
  if (rng.chance(0.35)) {
    const mp = join(out, 'klp-split.json');
    const m = JSON.parse(readFileSync(mp, 'utf8')) as Json;
    const p = hostilePath(rng, out, sandbox, 'secret');
    const field = setField(rng, m, ['parts.file', 'header', 'includes'], p.value);
    writeFileSync(mp, JSON.stringify(m, null, 2));
    what = `manifest ${field} = ${short(p.value)} (${p.label})`;
  } else {
    const rp = join(out, '.klp-split/build.json');
    const r = JSON.parse(readFileSync(rp, 'utf8')) as Json;
    const field = rng.pick(['modules.ko', 'modules.ko', 'symvers', 'layoutModule', 'release', 'kdir', 'overlayInclude']);
    const p = field === 'release' ? { label: 'release', value: rng.pick([`/${'../'.repeat(12)}${sandbox.sentinel.slice(1)}/secret`, `../${'x/'.repeat(3)}`, 'a/../../b', '\0', '.', '..']) } : hostilePath(rng, out, sandbox, field === 'symvers' ? 'symvers' : 'secret');
    setField(rng, r, [field], p.value);
    writeFileSync(rp, JSON.stringify(r, null, 2));
    what = `build record ${field} = ${short(p.value)} (${p.label})`;
  }
  const args = rng.chance(0.6) ? ['verify', out, '--target', built.target, '--no-explore'] : ['simulate', out, '--target', built.target, '--explore'];
  const { violations } = await judge(sandbox, [], () => runInProcess(args));
  return { what: `${args[0]}: ${what}`, violations, commands: [args] };
}

async function wrapperInclude(sandbox: Sandbox, rng: Rng): Promise<CaseOutcome> {
  const src = join(sandbox.work, 'src');
  const lib = join(sandbox.work, 'lib');
  const out = join(sandbox.work, 'out');
  mkdirSync(src);
  mkdirSync(lib);
  // A real livepatch beside the source's directory: including it by `..` reaches outside.
  writeFileSync(join(lib, 'lp.c'), readFileSync(libLivepatch('test_klp_state2.c')));
  const p = rng.chance(0.4)
    ? rng.pick([
        { label: './../lib', value: './../lib/lp.c' },
        { label: '../lib', value: '../lib/lp.c' },
        { label: 'absolute', value: join(lib, 'lp.c') },
        { label: 'include cycle', value: 'wrapper.c' },
      ])
    : hostilePath(rng, src, sandbox, 'lib');
  const inc = typeof p.value === 'string' ? p.value.replace(/\0/g, '\\0').replace(/\n/g, ' ') : String(p.value);
  const wrapper = readFileSync(libLivepatch('test_klp_state3.c'), 'latin1').replace(/#include "test_klp_state2\.c"/, `#include "${inc}"`);
  writeFileSync(join(src, 'wrapper.c'), wrapper, 'latin1');
  const args = ['split', join(src, 'wrapper.c'), '--out', out, '--all-includes', ...(rng.chance(0.5) ? ['--force'] : [])];
  const { violations } = await judge(sandbox, [out], () => runInProcess(args));
  return { what: `wrapper #include "${inc.length > 80 ? `${inc.slice(0, 40)}...` : inc}" (${p.label})`, violations, commands: [args] };
}

async function markerSource(sandbox: Sandbox, rng: Rng): Promise<CaseOutcome> {
  const root = join(sandbox.work, 'ws');
  const base = join(root, 'livepatches/fix');
  mkdirSync(base, { recursive: true });
  const p = hostilePath(rng, base, sandbox, 'lib');
  const field = rng.pick(['source', 'source', 'sources']);
  const lp = field === 'source' ? { source: p.value, targets: ['mod'] } : { source: 'fix.c', targets: ['mod'] };
  const mod = field === 'sources' ? { sources: [p.value] } : VALID_MODULE;
  const ws = writeWorkspace(root, JSON.stringify(lp), JSON.stringify(mod));
  const before = sandbox.snapshot([]);
  const r = await createNodes(ws);
  const violations = r.error !== undefined ? refusalViolations(r.error, ws) : targetPathViolations(r.results, ws);
  const { diffSnapshots } = await import('./sandbox.js');
  const changes = diffSnapshots(before, sandbox.snapshot([]));
  if (changes.length) violations.push({ kind: 'write-outside', detail: changes.slice(0, 3).join(', ') });
  return { what: `marker ${field} = ${short(p.value)} (${p.label})`, violations, commands: [['(createNodes)', ws.livepatchMarker, ws.moduleMarker]] };
}

describe('fuzzing the paths klp-split reads from data', () => {
  let sandbox: Sandbox;
  let built: BuiltSplit;
  beforeAll(async () => {
    sandbox = new Sandbox(CLASS);
    built = await builtSplit();
  });
  afterAll(() => sandbox?.remove());

  it.each(SEEDS.map(hex))(`${CASES.length} hostile paths, seed %s: nothing outside the output is read, written or deleted`, async (seedText) => {
    const { failures, figures } = await fuzzSeed(CLASS, Number(seedText), CASES, sandbox, (rng) => {
      switch (rng.int(6)) {
        case 0:
          return splitOverStaleManifest(sandbox, rng);
        case 1:
          return convertOverStaleManifest(sandbox, rng);
        case 2:
          return wrapperInclude(sandbox, rng);
        case 3:
          return markerSource(sandbox, rng);
        default:
          return verifyBuilt(sandbox, rng, built);
      }
    });
    console.log(summary(figures));
    expect(failures.slice(0, 15).map((f) => describeFailure(CLASS, f))).toEqual([]);
  });
});
