import { isAbsolute, resolve } from 'node:path';
import { formatDiagnostic, type Diagnostic } from '../diagnostics.js';
import { EXIT_FINDINGS, EXIT_OK } from '../errors.js';

/** Where a command prints: results on out, diagnostics on err, progress lines (one per module) on progress. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  progress: (text: string) => void;
}

/** The process's stdout and stderr; `quiet` silences progress. What the command line and the Nx executors print through. */
export function defaultIo(quiet: boolean): Io {
  return {
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
    progress: quiet ? () => {} : (t) => process.stderr.write(`${t}\n`),
  };
}

export function printDiagnostics(io: Io, diags: readonly Diagnostic[]): void {
  for (const d of diags) io.err(formatDiagnostic(d));
}

/** $CI set (and not "false"): no progress lines. */
export function isCi(): boolean {
  return !!process.env.CI && process.env.CI !== 'false';
}

/**
 * What a command runs in besides its options: where it prints, and the
 * directory its relative paths are relative to (the command line's current
 * directory, the Nx workspace root).
 */
export interface CommandContext {
  io: Io;
  base: string;
}

/** Every command's result: its exit status (0 done, 1 findings; usage and environment errors are thrown) and its diagnostics. */
export interface CommandResult {
  exitCode: typeof EXIT_OK | typeof EXIT_FINDINGS;
  diagnostics: Diagnostic[];
}

/**
 * An option's path as the command hands it on: unchanged when the process
 * runs in the base directory (messages then name it as the user wrote it),
 * else resolved from the base (Nx started in a project's directory).
 */
export function pathIn(ctx: CommandContext, path: string): string {
  return isAbsolute(path) || resolve(ctx.base) === process.cwd() ? path : resolve(ctx.base, path);
}
