import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheDir } from '@klp-split/core';
import { kernelEnv } from '@klp-split/kernel-facts';
import { klpSplit, ROOT } from './env.js';

/**
 * Shared fixtures: what many suites need built (target modules, the corpus's
 * splits, packed packages) is built once and kept under
 * <cache>/fixtures/<name>-<key>/, where <cache> is klp-split's cache
 * ($KLP_SPLIT_CACHE or ~/.cache/klp-split). The key hashes everything the
 * build reads: the tool as it runs (the packages' dist/, scripts, bin and
 * manifests, the lock file), the kernel headers and gcc of the kernel
 * environment, and the fixture's own inputs. Suites running at the same
 * time wait for one build (a lock file); later runs with the same key reuse
 * it. A fixture is read-only to its users: copy it (copyFixture) before
 * changing anything in it.
 */

export interface FixtureInputs {
  /** Files and directories (absolute, or relative to the repository) whose contents the build reads. */
  files?: string[];
  /** Other facts the build depends on (a kernel tree's path, whose name is its key; options). */
  facts?: string[];
  /** Whether the build runs kbuild against the kernel environment's headers (adds them and gcc to the key); default true. */
  kbuild?: boolean;
  /** Whether the build runs klp-split (adds the tool to the key); default true. */
  tool?: boolean;
}

/** A fixture directory unused for this long goes. */
const KEEP_DAYS = 7;

/** Hashes the files under `path` by their names relative to `base` (so a clone elsewhere has the same key) and contents. */
export function hashTree(h: ReturnType<typeof createHash>, path: string, base: string, skip: (name: string) => boolean = () => false): void {
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path).sort()) if (!skip(name)) hashTree(h, join(path, name), base, skip);
  } else {
    h.update(`${relative(base, path)}\0`).update(readFileSync(path)).update('\0');
  }
}

let toolKeyMemo: string | undefined;
/** The tool as the suites run it: every package's dist/, scripts/, bin/ and JSON manifests, and the lock file. */
export function toolKey(): string {
  if (toolKeyMemo) return toolKeyMemo;
  const h = createHash('sha256');
  for (const pkg of readdirSync(join(ROOT, 'packages')).sort()) {
    const dir = join(ROOT, 'packages', pkg);
    for (const entry of readdirSync(dir).sort()) {
      if (['dist', 'scripts', 'bin'].includes(entry) || entry.endsWith('.json')) hashTree(h, join(dir, entry), ROOT, (n) => n.endsWith('.tsbuildinfo') || n.endsWith('.map'));
    }
  }
  hashTree(h, join(ROOT, 'package-lock.json'), ROOT);
  return (toolKeyMemo = h.digest('hex').slice(0, 16));
}

let kernelKeyMemo: string | undefined;
/** The kernel environment's headers (release, Module.symvers) and the compiler kbuild runs. */
export function kernelKey(): string {
  if (kernelKeyMemo) return kernelKeyMemo;
  const env = kernelEnv();
  const gcc = execFileSync('gcc', ['-dumpfullversion'], { encoding: 'utf8' }).trim();
  const h = createHash('sha256').update(`${env.KLP_KERNEL_RELEASE}\0${env.KLP_KDIR}\0gcc ${gcc}\0`);
  h.update(readFileSync(join(env.KLP_KDIR, 'Module.symvers')));
  return (kernelKeyMemo = h.digest('hex').slice(0, 16));
}

/** The key of a fixture: what its build reads. */
export function fixtureKey(inputs: FixtureInputs): string {
  const h = createHash('sha256');
  if (inputs.tool !== false) h.update(`tool ${toolKey()}\0`);
  if (inputs.kbuild !== false) h.update(`kernel ${kernelKey()}\0`);
  for (const f of inputs.facts ?? []) h.update(`fact ${f}\0`);
  for (const f of inputs.files ?? []) {
    const path = resolve(ROOT, f);
    // The name inside the repository, else the base name (the corpus lives in the cache, wherever that is).
    h.update(`input ${relative(ROOT, path).startsWith('..') ? basename(path) : relative(ROOT, path)}\0`);
    hashTree(h, path, path);
  }
  return h.digest('hex').slice(0, 16);
}

export function fixturesDir(): string {
  return join(cacheDir(), 'fixtures');
}

/** A process's start time (field 22 of /proc/<pid>/stat): tells the holder from a later process with its pid. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether the process that wrote the lock file still runs (a lock being written counts as held). */
function holderAlive(lock: string): boolean {
  let text: string;
  try {
    text = readFileSync(lock, 'utf8');
  } catch {
    return false;
  }
  const [pid, start] = text.trim().split(' ');
  if (!pid || !start) {
    const st = statSync(lock, { throwIfNoEntry: false });
    return st !== undefined && Date.now() - st.mtimeMs < 10_000;
  }
  return startTime(Number(pid)) === start;
}

/** Takes <path> (O_EXCL); waits while a live process holds it. */
async function lock(path: string): Promise<void> {
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid} ${startTime(process.pid)}\n`);
      closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (!holderAlive(path)) rmSync(path, { force: true });
    else await sleep(500);
  }
}

let swept = false;
/** Fixture directories unused for a week go (once per process). */
function sweep(top: string): void {
  if (swept) return;
  swept = true;
  const cutoff = Date.now() - KEEP_DAYS * 24 * 3600_000;
  for (const name of readdirSync(top)) {
    const stamp = join(top, name, '.complete');
    if (existsSync(stamp) && statSync(stamp).mtimeMs < cutoff) rmSync(join(top, name), { recursive: true, force: true });
  }
}

/**
 * The directory of fixture `name` for these inputs, built by `build(dir)`
 * unless a complete one is there. A failed build leaves nothing; the next
 * caller builds again.
 */
export async function sharedFixture(name: string, inputs: FixtureInputs, build: (dir: string) => Promise<void>): Promise<string> {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`a fixture name is lower case, digits and '-': '${name}'`);
  const top = fixturesDir();
  mkdirSync(top, { recursive: true });
  const dir = join(top, `${name}-${fixtureKey(inputs)}`);
  const stamp = join(dir, '.complete');
  if (!existsSync(stamp)) {
    await lock(`${dir}.lock`);
    try {
      if (!existsSync(stamp)) {
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        try {
          await build(dir);
        } catch (e) {
          rmSync(dir, { recursive: true, force: true });
          throw e;
        }
        writeFileSync(stamp, '');
      }
    } finally {
      rmSync(`${dir}.lock`, { force: true });
    }
  }
  const now = new Date();
  utimesSync(stamp, now, now);
  sweep(top);
  return dir;
}

/** A private copy of a fixture's directory, to build again, edit, or let klp-split write into. */
export function copyFixture(from: string, to: string): string {
  cpSync(from, to, { recursive: true });
  return to;
}

/**
 * Generated module sources (file name -> text) built by one `klp-split build`
 * with `args`, then changed by `edit` when given (its `what` describes the
 * change for the key, e.g. the edits as JSON): a shared fixture keyed by the
 * texts, the arguments and the edit. Throws with the build's output when it
 * fails.
 */
export async function builtSources(name: string, sources: Record<string, string>, opts: { args?: string[]; edit?: { what: string; apply: (dir: string) => void } } = {}): Promise<string> {
  const facts = [...Object.entries(sources)].sort(([a], [b]) => a.localeCompare(b)).map(([f, text]) => `${f}\0${text}`);
  const args = opts.args ?? [];
  return sharedFixture(name, { facts: [...facts, `args ${args.join(' ')}`, `edit ${opts.edit?.what ?? ''}`] }, async (dir) => {
    for (const [f, text] of Object.entries(sources)) writeFileSync(join(dir, f), text);
    const r = await klpSplit(['build', dir, '-q', ...args]);
    if (r.code !== 0) throw new Error(`klp-split build of the ${name} fixture failed:\n${r.stdout}\n${r.stderr}`);
    opts.edit?.apply(dir);
  });
}

/** What `klp-split build --json` of one directory did. */
export interface BuildOutcome {
  code: number;
  /** Its stdout (the JSON result) and stderr. */
  stdout: string;
  stderr: string;
}

/**
 * Split outputs (name -> file name -> text) written out and each built by
 * `klp-split build --json -q` with `args`, two at a time: a shared fixture
 * keyed by the texts. Every build's outcome is kept (a failure too), for the
 * suite whose subject the build is.
 */
export async function builtSplits(name: string, splits: Map<string, Map<string, string>>, args: string[] = []): Promise<{ dir: (split: string) => string; build: (split: string) => BuildOutcome }> {
  const facts = [...splits].sort(([a], [b]) => a.localeCompare(b)).flatMap(([n, files]) => [...files].sort(([a], [b]) => a.localeCompare(b)).map(([f, text]) => `${n}/${f}\0${text}`));
  const top = await sharedFixture(name, { facts: [...facts, `args ${args.join(' ')}`] }, async (d) => {
    const queue = [...splits.keys()];
    const worker = async (): Promise<void> => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
        mkdirSync(join(d, n), { recursive: true });
        for (const [f, text] of splits.get(n)!) writeFileSync(join(d, n, f), text);
        const b = await klpSplit(['build', join(d, n), '--json', '-q', ...args]);
        writeFileSync(join(d, `${n}.build.json`), JSON.stringify({ code: b.code, stdout: b.stdout, stderr: b.stderr }));
      }
    };
    await Promise.all([worker(), worker()]);
  });
  return { dir: (n) => join(top, n), build: (n) => JSON.parse(readFileSync(join(top, `${n}.build.json`), 'utf8')) as BuildOutcome };
}
