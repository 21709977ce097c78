import { execa } from 'execa';
import { main } from '../../packages/nx/src/cli/main.js';
import type { Io } from '../../packages/nx/src/cli/output.js';
import { CLI, ROOT } from '../helpers/env.js';
import { homedir, tmpdir } from 'node:os';
import { basename, isAbsolute, join, relative, sep } from 'node:path';
import { traced, type Access } from './fs-trace.js';

/** One command run: what a user sees and what it touched. */
export interface RunResult {
  args: string[];
  /** Exit status; undefined when killed (signal) or timed out. */
  code: number | undefined;
  signal?: string;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  ms: number;
  /** Files opened, written and deleted (in-process runs only). */
  accesses?: Access[];
  /** An exception that escaped main() itself (it must catch everything). */
  escaped?: string;
}

/** A time bound per input: beyond it a run counts as a hang. */
export const TIME_BOUND_MS = Number(process.env.FUZZ_TIME_BOUND_MS ?? 15_000);

function within(base: string, path: string): boolean {
  const rel = relative(base, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * Where an in-process run may physically write: its sandbox, the tool's
 * cache, and the tool's own temporary directories (never another sandbox).
 * Anything else is refused by the harness before it happens.
 */
export function fenceFor(sandboxRoot: string): (a: Access) => boolean {
  const cache = join(homedir(), '.cache/klp-split');
  return (a) => {
    if (within(sandboxRoot, a.path) || within(cache, a.path)) return false;
    const rel = relative(tmpdir(), a.path);
    const top = rel.split(sep)[0] ?? '';
    if (within(tmpdir(), a.path) && rel !== '' && top.startsWith('klp-split') && !top.startsWith('klp-split-fuzz-')) return false;
    return true;
  };
}

/** The fence of runs that name no sandbox: only the tool's cache and temporary directories. */
let defaultFence = fenceFor(join(tmpdir(), `klp-split-fuzz-none-${basename(process.argv[1] ?? 'x')}`));

export function setDefaultSandbox(root: string): void {
  defaultFence = fenceFor(root);
}

/**
 * Runs the CLI's main() in this process with a capturing Io, so thousands of
 * inputs cost no process start. Environment variables are set for the run only.
 */
export async function runInProcess(args: string[], opts: { env?: Record<string, string | undefined> } = {}): Promise<RunResult> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), progress: (t) => err.push(t) };
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  const t0 = performance.now();
  let code: number | undefined;
  let escaped: string | undefined;
  let accesses: Access[] = [];
  try {
    const r = await traced(() => main(args, io), defaultFence);
    code = r.value;
    accesses = r.accesses;
  } catch (e) {
    escaped = e instanceof Error ? `${e.constructor.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const ms = performance.now() - t0;
  return { args, code, timedOut: false, stdout: out.join('\n'), stderr: err.join('\n'), ms, accesses, escaped };
}

/** Runs the real command line (FUZZ_CLI: another build's bin/klp-split.js) in a child process, killed at the time bound: for hangs, special files and kills. */
export async function runSubprocess(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  const t0 = performance.now();
  // prlimit: a runaway read (/dev/zero) fails at 3 GiB of address space instead of taking the machine's memory.
  const r = await execa('prlimit', [`--as=${3 << 30}`, 'node', process.env.FUZZ_CLI ?? CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    reject: false,
    env: { CI: 'true', ...opts.env },
    timeout: opts.timeoutMs ?? TIME_BOUND_MS,
    killSignal: 'SIGKILL',
    input: opts.input,
    maxBuffer: 16 << 20,
  });
  return {
    args,
    code: r.exitCode ?? undefined,
    signal: r.signal ?? undefined,
    timedOut: !!r.timedOut,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    ms: performance.now() - t0,
  };
}
