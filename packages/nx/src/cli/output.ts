import { formatDiagnostic, type Diagnostic } from '@klp-split/core';

/** Where commands print: stdout for results, stderr for diagnostics and progress. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Progress lines (one per module); silenced with --quiet or in CI. */
  progress: (text: string) => void;
}

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

export function isCi(): boolean {
  return !!process.env.CI && process.env.CI !== 'false';
}
