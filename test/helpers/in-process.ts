import { main } from '../../packages/nx/src/cli/main.js';
import type { Io } from '../../packages/nx/src/cli/output.js';

/**
 * The command line's one function, main(), run in this process with its
 * output captured: what `klpSplit()` (helpers/env.ts) gives, without a
 * node start per command. For tests whose subject is what a command does,
 * not the process boundary (a kill, a race between two processes, a
 * process's CPU time keep `klpSplit()`). As `klpSplit()` runs it, with
 * CI=true: no progress lines.
 */
export async function klpSplitInProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const line = (t: string): string => (t.endsWith('\n') ? t : `${t}\n`);
  const io: Io = { out: (t) => out.push(line(t)), err: (t) => err.push(line(t)), progress: () => {} };
  const code = await main(args, io);
  // As execa gives a child's output: without the last newline.
  const text = (parts: string[]): string => parts.join('').replace(/\n$/, '');
  return { code, stdout: text(out), stderr: text(err) };
}
