import { main } from '../../packages/nx/src/cli/main.js';
import type { Io } from '../../packages/nx/src/cli/output.js';

/**
 * The command line's `main()` run in this process: the same arguments, exit
 * status, stdout and stderr as `klpSplit()` (helpers/env.ts) gives for a
 * spawned `klp-split` under CI (progress lines silenced), without a node
 * start and module load per command. For suites whose subject is what a
 * command does, not the process boundary; a test that sets the environment
 * (HOME, KDIR), a working directory, or reads a file that may block (a FIFO)
 * spawns the real command instead, as do the suites that test the CLI itself.
 */
export async function klpSplitIn(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  // As the process's own stdout and stderr write them (core's defaultIo): one line per call.
  const line = (t: string): string => (t.endsWith('\n') ? t : `${t}\n`);
  const io: Io = { out: (t) => out.push(line(t)), err: (t) => err.push(line(t)), progress: () => {} };
  const code = await main(args, io);
  // execa strips the last newline of a spawned command's output: so does this.
  const text = (parts: string[]): string => parts.join('').replace(/\r?\n$/, '');
  return { code, stdout: text(out), stderr: text(err) };
}
