import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkMakePath } from '../../packages/kbuild-gen/src/make-safe.js';
import { createNodesV2 } from '../../packages/nx/src/plugin/index.js';
import { toolContext } from '../../packages/nx/src/plugin/tool-context.js';
import { shellWords } from '../helpers/shell-words.js';
import { describeFailure, fuzzSeed, noteCase, summary, type CaseOutcome } from './driver.js';
import type { Violation } from './oracles.js';
import { fuzzCases, fuzzSeeds, hex, type Rng } from './rng.js';
import { TIME_BOUND_MS } from './run.js';
import { diffSnapshots, Sandbox } from './sandbox.js';
import { refusalViolations } from './workspace.js';

/**
 * Issue 20: project directories named at random from shell, make, glob and
 * Nx token syntax (`;`, `$(`, backquotes, quotes, newlines, `*`, `[`,
 * `{projectRoot}`, a leading `-`, other scripts' letters) through the Nx
 * plugin's createNodes, with and without the option `kernels`, markers with
 * and without a kdir. Oracles: a directory Nx would read as a glob or a
 * token is refused naming its marker, and only such a one; no target is a
 * command line; every path option is the directory as written; every
 * command Nx runs in a shell (the runtime inputs) lexes to exactly the
 * expected words and, run by a real `sh -c` with a `node` on PATH that
 * records its arguments, gets exactly them and creates nothing; a
 * directory kbuild accepts (checkMakePath) goes through make and a shell
 * recipe unchanged.
 */
const CLASS = 'nx-targets';
const SEEDS = fuzzSeeds([0x2a7e0001, 0x2a7e0002]);
const CASES = fuzzCases(25);
const KERNEL = '6.1.0-57-amd64';
const KDIR = '/usr/src/linux-headers-6.1.0-57-amd64';

/** Shell and make syntax Nx carries as text. */
const SHELL = [';', '&&', '|', '`', '$', "'", '"', ' ', '\t', '\n', '#', '~', '>', '<', '%', ',', '=', ':', '&', '!', 'touch PWNED', '$HOME', '`touch PWNED`'];
/** What Nx reads as glob or token syntax too. */
const NX_SYNTAX = ['$(', ')', '(', '${IFS}', '\\', '*', '?', '[', ']', '{', '}', '{projectRoot}', '{workspaceRoot}', '{projectName}', '{options.x}'];
const TAME = ['lp', 'fix', 'x', '-', '--', '_', '.', '+', '@', '~', '0', 'é', '日本', 'Ω', '-rf', '--help'];

/** A directory name: a few pieces of syntax and tame text; never '/', NUL, '.' or '..'. */
function dirName(rng: Rng): string {
  const tame = rng.chance(0.3);
  let s = '';
  for (let i = 0, n = 1 + rng.int(6); i < n; i++) s += rng.pick(tame ? TAME : rng.chance(0.08) ? NX_SYNTAX : rng.chance(0.6) ? SHELL : TAME);
  if (s === '.' || s === '..' || s.length > 200) s = `d${s.slice(0, 100)}`;
  return s;
}

/** What Nx reads as glob or token syntax in {projectRoot}/...: the plugin must refuse exactly these (an oracle of its own). */
const nxReads = (root: string): boolean => /[*?[\]{}()\\]/.test(root) || root.split('/').some((seg) => seg.startsWith('!'));

interface Target {
  executor?: string;
  command?: string;
  options?: Record<string, unknown>;
  inputs?: (string | { runtime?: string })[];
}
type Nodes = [string, { projects?: Record<string, { root: string; targets?: Record<string, Target> }> }][];

/** A `node` that records its arguments: what a shell really passed to the command Nx runs. */
function shim(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'node'), `#!${process.execPath}\nrequire('fs').appendFileSync(process.env.ARGV_LOG, JSON.stringify(process.argv.slice(2)) + '\\n');\n`);
  chmodSync(join(dir, 'node'), 0o755);
  return dir;
}

async function runInShell(command: string, cwd: string, shimDir: string): Promise<{ argv?: string[]; timedOut: boolean }> {
  const log = join(cwd, '.argv.log');
  writeFileSync(log, '');
  const r = await execa('sh', ['-c', command], { cwd, reject: false, timeout: TIME_BOUND_MS, env: { PATH: `${shimDir}:/usr/bin:/bin`, ARGV_LOG: log } });
  const line = readFileSync(log, 'utf8').trim().split('\n')[0];
  return { argv: line ? (JSON.parse(line) as string[]) : undefined, timedOut: !!r.timedOut };
}

/** kbuild's use of a path: make reads it, a recipe hands it to a shell unquoted. */
async function throughMake(path: string, cwd: string): Promise<{ out: string; timedOut: boolean }> {
  writeFileSync(join(cwd, 'Makefile'), 'all:\n\t@printf "%s" $(M) > out.txt\n');
  const r = await execa('make', ['-s', '-C', cwd, `M=${path}`], { reject: false, timeout: TIME_BOUND_MS });
  return { out: existsSync(join(cwd, 'out.txt')) ? readFileSync(join(cwd, 'out.txt'), 'utf8') : '', timedOut: !!r.timedOut };
}

/** What the cases exercised, printed with the figures: a fuzzer that never reaches the shell proves nothing. */
const seen = { accepted: 0, refused: 0, shellRuns: 0, makeRuns: 0 };

async function targetsCase(sandbox: Sandbox, rng: Rng, shimDir: string): Promise<CaseOutcome> {
  const ws = join(sandbox.work, 'ws');
  const lpRoot = `${rng.chance(0.2) ? `${dirName(rng)}/` : 'livepatches/'}${dirName(rng)}`;
  const modRoot = `modules/${dirName(rng)}`;
  const kernels = rng.chance(0.5) ? [KERNEL] : [];
  const kdir = rng.chance(0.7) ? { kdir: KDIR } : {};
  const what = `livepatch ${JSON.stringify(lpRoot)}, module ${JSON.stringify(modRoot)}, kernels ${JSON.stringify(kernels)}${kdir.kdir ? ', kdir' : ''}`;
  noteCase(sandbox, what);
  const v: Violation[] = [];
  const lpMarker = `${lpRoot}/klp-livepatch.json`;
  const modMarker = `${modRoot}/klp-module.json`;
  try {
    mkdirSync(join(ws, lpRoot), { recursive: true });
    mkdirSync(join(ws, modRoot), { recursive: true });
  } catch (e) {
    // A name the file system refuses (too long a path): not an input.
    return { what: `${what} (not creatable: ${(e as NodeJS.ErrnoException).code})`, violations: [], commands: [] };
  }
  writeFileSync(join(ws, lpRoot, 'fix.c'), '/* a livepatch */\n');
  writeFileSync(join(ws, lpRoot, 'klp-livepatch.json'), JSON.stringify({ name: 'lp', source: 'fix.c', targets: ['mod'], ...kdir }));
  writeFileSync(join(ws, modRoot, 'mod.c'), '/* a module */\n');
  writeFileSync(join(ws, modRoot, 'klp-module.json'), JSON.stringify({ name: 'mod', sources: ['mod.c'], ...kdir }));
  const scratch = [join(ws, '.argv.log'), join(sandbox.work, 'make')];
  const before = sandbox.snapshot(scratch);
  const [, fn] = createNodesV2;
  // The tool as this workspace reaches it: node and the bin's path (itself a word to quote when it has to be).
  const cli = shellWords(toolContext(ws).cli);
  if (!('words' in cli)) return { what, violations: [{ kind: 'write-outside', detail: `the tool's command ${toolContext(ws).cli} is not plain words` }], commands: [] };
  let nodes: Nodes | undefined;
  let error: unknown;
  try {
    nodes = (await fn([lpMarker, modMarker], { kernels }, { workspaceRoot: ws, nxJsonConfiguration: {} } as Parameters<typeof fn>[2])) as unknown as Nodes;
  } catch (e) {
    error = e;
  }
  const refusedOk = nxReads(lpRoot) || nxReads(modRoot);
  if (error !== undefined) seen.refused++;
  else seen.accepted++;
  const ranInShell = new Set<string>();
  if (error !== undefined) {
    v.push(...refusalViolations(error, { root: ws, livepatchMarker: lpMarker, moduleMarker: modMarker }));
    if (!refusedOk) v.push({ kind: 'content', detail: `refused directories Nx can carry: ${String((error as Error).message).slice(0, 200)}` });
  } else {
    if (refusedOk) v.push({ kind: 'content', detail: 'accepted a directory Nx reads as glob or token syntax: its inputs and outputs would match other files' });
    for (const [, r] of nodes!) {
      for (const p of Object.values(r.projects ?? {})) {
        const marker = p.root === lpRoot ? lpMarker : modMarker;
        for (const [name, t] of Object.entries(p.targets ?? {})) {
          if (t.command !== undefined || t.options?.command !== undefined || !/^(@klp-split\/nx:(split|build|verify|report)|nx:noop)$/.test(t.executor ?? '')) {
            v.push({ kind: 'write-outside', detail: `${p.root} ${name}: a command line (${t.executor}) in a target` });
          }
          for (const key of ['source', 'path', 'outputPath', 'report', 'markdown', 'sarif']) {
            const val = t.options?.[key];
            if (typeof val === 'string' && !val.startsWith(`${p.root}/`) && val !== p.root) v.push({ kind: 'content', detail: `${p.root} ${name} ${key} ${JSON.stringify(val)} is not in the project's directory as written` });
          }
          for (const i of t.inputs ?? []) {
            if (typeof i !== 'object' || typeof i.runtime !== 'string') continue;
            const lexed = shellWords(i.runtime);
            const expected = [
              ...cli.words,
              ...(i.runtime.endsWith(' --version') ? ['--version'] : kernels.length ? ['kernel-id', '--kernel', KERNEL] : ['kernel-id', ...(kdir.kdir ? ['--marker', marker] : [])]),
            ];
            if (!('words' in lexed) || JSON.stringify(lexed.words) !== JSON.stringify(expected)) {
              v.push({ kind: 'write-outside', detail: `${p.root} ${name}: the runtime input ${JSON.stringify(i.runtime).slice(0, 200)} is not the words ${JSON.stringify(expected).slice(0, 200)}` });
              continue;
            }
            if (!/[^A-Za-z0-9 ./_-]/.test(i.runtime) || ranInShell.has(i.runtime)) continue;
            ranInShell.add(i.runtime);
            seen.shellRuns++;
            const real = await runInShell(i.runtime, ws, shimDir);
            if (real.timedOut) v.push({ kind: 'hang', detail: `sh -c ${JSON.stringify(i.runtime).slice(0, 120)}` });
            else if (JSON.stringify(real.argv) !== JSON.stringify(expected.slice(1))) v.push({ kind: 'write-outside', detail: `sh -c gave node ${JSON.stringify(real.argv)?.slice(0, 200)}, not ${JSON.stringify(expected.slice(1)).slice(0, 200)}` });
          }
        }
      }
    }
  }
  // kbuild: a directory it takes must reach make and a shell recipe as itself.
  for (const root of [lpRoot, modRoot]) {
    const abs = join(ws, root, 'out');
    let accepted = true;
    try {
      checkMakePath(abs, 'the build directory');
    } catch {
      accepted = false;
    }
    if (!accepted) continue;
    seen.makeRuns++;
    const m = await throughMake(abs, join(sandbox.work, 'make'));
    if (m.timedOut) v.push({ kind: 'hang', detail: `make M=${JSON.stringify(abs)}` });
    else if (m.out !== abs) v.push({ kind: 'write-outside', detail: `make and sh turned M=${JSON.stringify(abs)} into ${JSON.stringify(m.out)}` });
  }
  if (existsSync(join(ws, 'PWNED'))) v.push({ kind: 'write-outside', detail: 'a directory name reached a shell: PWNED was created' });
  const changes = diffSnapshots(before, sandbox.snapshot(scratch));
  if (changes.length) v.push({ kind: 'write-outside', detail: changes.slice(0, 3).join(', ') });
  return { what, violations: v, commands: [['(createNodes)', lpMarker, modMarker]] };
}

describe('fuzzing project directory names through the Nx plugin targets and kbuild', () => {
  let sandbox: Sandbox;
  let shimDir: string;
  beforeAll(() => {
    sandbox = new Sandbox(CLASS);
    shimDir = shim(join(sandbox.root, 'shim'));
  });
  afterAll(() => sandbox?.remove());

  it('accepts a tame directory and refuses a glob one (the oracle can fail both ways)', async () => {
    expect(nxReads('livepatches/lp;x')).toBe(false);
    expect(nxReads('livepatches/$(x)')).toBe(true);
    expect(shellWords("node b kernel-id --marker 'a;b'")).toEqual({ words: ['node', 'b', 'kernel-id', '--marker', 'a;b'] });
    expect(shellWords('node b kernel-id --marker a;b')).toHaveProperty('unsafe', ';');
    mkdirSync(join(sandbox.work, 'make'), { recursive: true });
    expect((await throughMake('/tmp/a b', join(sandbox.work, 'make'))).out).not.toBe('/tmp/a b');
  });

  it.each(SEEDS.map(hex))(`${CASES.length} random directory names, seed %s: no name reaches a shell, Nx never reads one as a pattern`, async (seedText) => {
    const { failures, figures } = await fuzzSeed(CLASS, Number(seedText), CASES, sandbox, (rng) => {
      mkdirSync(join(sandbox.work, 'make'), { recursive: true });
      return targetsCase(sandbox, rng, shimDir);
    });
    console.log(`${summary(figures)}; so far ${seen.accepted} accepted, ${seen.refused} refused, ${seen.shellRuns} runtime inputs run by sh, ${seen.makeRuns} paths through make`);
    expect(failures.slice(0, 15).map((f) => describeFailure(CLASS, f))).toEqual([]);
  });
});
