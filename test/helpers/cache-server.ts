import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from './env.js';

/**
 * klp-split-cache-server as a process of its own, through its bin: what a
 * machine runs. As root, it runs as `nobody` (a server has no business
 * being root, and root reads every file: an unreadable record needs a user
 * who cannot read it); the share is then made that user's.
 */
export const BIN = join(ROOT, 'packages/nx/bin/klp-split-cache-server.js');
export const WRITE_TOKEN = 'main-jobs-4b1d9e0c';
export const READ_TOKEN = 'pull-requests-77a2f5e1';
export const TOKENS = { KLP_SPLIT_CACHE_WRITE_TOKEN: WRITE_TOKEN, KLP_SPLIT_CACHE_READ_TOKEN: READ_TOKEN };
export const AS_NOBODY = process.getuid?.() === 0;
const NOBODY = 65534;

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  pid: number;
  /** Its stderr, line by line (the request log with --verbose, and its warnings). */
  log: string[];
  /** Resolves when the process has exited, with its exit code (null: a signal). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Makes `share` (and the directories above it up to `top`) usable by the server's user. */
export function shareFor(share: string, top: string): void {
  if (!AS_NOBODY) return;
  for (let d = dirname(share); d.startsWith(top) && d !== dirname(top); d = dirname(d)) chmodSync(d, 0o755);
  chownSync(share, NOBODY, NOBODY);
  for (const f of readdirSync(share)) if (!f.startsWith('.')) lchownSync(join(share, f), NOBODY, NOBODY);
}

export async function startServerProcess(share: string, args: string[] = [], env: Record<string, string> = TOKENS): Promise<ServerProcess> {
  const argv = [BIN, '--dir', share, '--verbose', ...args];
  const child = AS_NOBODY
    ? spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH!, ...env } })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH!, ...env } });
  const log: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => log.push(l));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = await Promise.race([
    new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve)),
    exited.then((code) => {
      throw new Error(`klp-split-cache-server exited (${code}):\n${log.join('\n')}`);
    }),
  ]);
  return {
    child,
    url,
    pid: child.pid!,
    log,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Open file descriptors of a process (its sockets among them). */
export function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}
