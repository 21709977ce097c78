import { existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/env.js';
import { describeFailure, fuzzSeed, judge, noteCase, summary, type CaseOutcome } from './driver.js';
import { HOSTILE_STRINGS, mutateJson } from './json-mutations.js';
import type { Violation } from './oracles.js';
import { fuzzCases, fuzzSeeds, hex, type Rng } from './rng.js';
import { runInProcess, TIME_BOUND_MS } from './run.js';
import { diffSnapshots, Sandbox } from './sandbox.js';
import { createNodes, refusalViolations, targetPathViolations, VALID_LIVEPATCH, VALID_MODULE, writeWorkspace, type MarkerWorkspace } from './workspace.js';

/**
 * Fuzzing the marker files klp-livepatch.json and klp-module.json through
 * the Nx plugin's createNodes (in-process) and the `kernel-id` command Nx
 * runs as a runtime cache input. Markers carry shell metacharacters
 * (`; touch PWNED #`, `$(...)`, backquotes, newlines) in kdir, name, source
 * and targets. Oracles: createNodes returns projects whose paths stay in
 * their roots or refuses naming the marker (never a TypeError); every
 * runtime input, run through `sh -c` as Nx runs it, creates no PWNED file
 * (no marker string reaches a shell); kernel-id with the marker's kdir
 * exits 0 or 2 and writes nothing.
 */

const CLASS = 'markers';
const SEEDS = fuzzSeeds([0x3ac6e001, 0x3ac6e002]);
const CASES = fuzzCases(25);

interface TargetLike {
  inputs?: (string | { runtime?: string })[];
}

function runtimeInputs(results: unknown): string[] {
  const out: string[] = [];
  for (const [, r] of results as [string, { projects?: Record<string, { targets?: Record<string, TargetLike> }> }][]) {
    for (const p of Object.values(r.projects ?? {})) for (const t of Object.values(p.targets ?? {})) for (const i of t.inputs ?? []) if (typeof i === 'object' && typeof i.runtime === 'string') out.push(i.runtime);
  }
  return [...new Set(out)];
}

/** Runs a runtime input the way Nx's hasher does: a shell command in the workspace root. */
async function runRuntimeInput(ws: MarkerWorkspace, command: string): Promise<Violation[]> {
  const r = await execa('sh', ['-c', command], { cwd: ws.root, reject: false, timeout: TIME_BOUND_MS, env: { CI: 'true' } });
  const v: Violation[] = [];
  if (r.timedOut) v.push({ kind: 'hang', detail: `runtime input ran over ${TIME_BOUND_MS} ms: ${command.slice(0, 120)}` });
  if (existsSync(join(ws.root, 'PWNED'))) v.push({ kind: 'write-outside', detail: `a marker string reached a shell: the runtime input '${command.slice(0, 160)}' created PWNED` });
  return v;
}

function livepatchMarker(rng: Rng): { text: string; what: string } {
  const base: Record<string, unknown> = { ...VALID_LIVEPATCH };
  if (rng.chance(0.5)) base.kdir = rng.chance(0.7) ? rng.pick(HOSTILE_STRINGS) : '/usr/src/linux-headers-6.1.0-57-amd64';
  if (rng.chance(0.2)) base.name = rng.pick(HOSTILE_STRINGS);
  if (rng.chance(0.2)) base.targets = [rng.pick(HOSTILE_STRINGS)];
  // A livepatch module of several files: "sources" instead of "source".
  if (rng.chance(0.3)) {
    delete base.source;
    base.sources = ['fix.c', rng.chance(0.5) ? 'funcs.c' : rng.pick(HOSTILE_STRINGS)];
  }
  const what = `livepatch marker ${JSON.stringify(base).slice(0, 160)}`;
  if (rng.chance(0.4)) return { text: JSON.stringify(base), what };
  const m = mutateJson(rng, base);
  return { text: m.text, what: `${what}, then ${m.what}` };
}

function moduleMarker(rng: Rng): { text: string; what: string } {
  const base: Record<string, unknown> = { ...VALID_MODULE };
  if (rng.chance(0.3)) base.kdir = rng.pick(HOSTILE_STRINGS);
  if (rng.chance(0.15)) base.name = rng.pick(HOSTILE_STRINGS);
  if (rng.chance(0.5)) return { text: JSON.stringify(base), what: `module marker ${JSON.stringify(base).slice(0, 120)}` };
  const m = mutateJson(rng, base);
  return { text: m.text, what: `module marker ${m.what}` };
}

async function markerCase(sandbox: Sandbox, rng: Rng): Promise<CaseOutcome> {
  const root = join(sandbox.work, 'ws');
  const lp = livepatchMarker(rng);
  const mod = rng.chance(0.4) ? moduleMarker(rng) : { text: JSON.stringify(VALID_MODULE), what: 'module marker valid' };
  const ws = writeWorkspace(root, lp.text, mod.text);
  // A workspace that has the tool where Nx's runtime input looks for it.
  symlinkSync(join(ROOT, 'packages'), join(root, 'packages'));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  const what = `${lp.what}; ${mod.what}`;
  noteCase(sandbox, what);
  const commands: string[][] = [['(createNodes)', ws.livepatchMarker, ws.moduleMarker]];
  const before = sandbox.snapshot([]);
  const nodes = await createNodes(ws);
  const violations: Violation[] = [];
  if (nodes.error !== undefined) violations.push(...refusalViolations(nodes.error, ws));
  else {
    violations.push(...targetPathViolations(nodes.results, ws));
    for (const cmd of runtimeInputs(nodes.results)) {
      // Only a command with something for a shell to interpret is worth a process.
      if (/[;&|`$<>()\n'"\\*]/.test(cmd.replace(/^node packages\/nx\/bin\/klp-split\.js kernel-id/, ''))) {
        commands.push(['(sh -c)', cmd]);
        violations.push(...(await runRuntimeInput(ws, cmd)));
      }
    }
  }
  const changes = diffSnapshots(before, sandbox.snapshot([]));
  if (changes.length) violations.push({ kind: 'write-outside', detail: changes.slice(0, 3).join(', ') });
  // kernel-id, in-process, with the marker's kdir as an argument.
  let kdir: unknown;
  try {
    kdir = (JSON.parse(lp.text) as { kdir?: unknown }).kdir;
  } catch {
    kdir = undefined;
  }
  if (typeof kdir === 'string' && kdir !== '' && !kdir.includes('\0')) {
    const args = ['kernel-id', '--kdir', kdir];
    commands.push(args);
    const k = await judge(sandbox, [], () => runInProcess(args), { allowedExit: [0, 2] });
    violations.push(...k.violations);
    if (existsSync(join(root, 'PWNED')) || existsSync(join(ROOT, 'PWNED'))) violations.push({ kind: 'write-outside', detail: 'kernel-id created PWNED' });
  }
  return { what, violations, commands };
}

describe('fuzzing the marker files through the Nx plugin and kernel-id', () => {
  let sandbox: Sandbox;
  beforeAll(() => {
    sandbox = new Sandbox(CLASS);
  });
  afterAll(() => sandbox?.remove());

  it('creates the projects of a valid workspace', async () => {
    sandbox.clearWork();
    const ws = writeWorkspace(join(sandbox.work, 'ws'), JSON.stringify(VALID_LIVEPATCH), JSON.stringify(VALID_MODULE));
    const r = await createNodes(ws);
    expect(r.error).toBeUndefined();
    expect(JSON.stringify(r.results)).toContain('"executor":"@klp-split/nx:split"');
  });

  it.each(SEEDS.map(hex))(`${CASES.length} mutated markers, seed %s: no marker string reaches a shell, every refusal names its file`, async (seedText) => {
    const { failures, figures } = await fuzzSeed(CLASS, Number(seedText), CASES, sandbox, (rng) => markerCase(sandbox, rng));
    console.log(summary(figures));
    expect(failures.slice(0, 15).map((f) => describeFailure(CLASS, f))).toEqual([]);
  });
});
