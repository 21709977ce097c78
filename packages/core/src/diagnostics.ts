/** A compiler-style finding: `file:line:col: severity: message [code]`. */
export type Severity = 'error' | 'warning' | 'note';

export interface Diagnostic {
  file: string;
  /** 1-based; 0 when the finding has no source position. */
  line: number;
  /** 1-based; 0 when the finding has no source position. */
  col: number;
  severity: Severity;
  message: string;
  code: string;
  /** For a finding mapped back to the original source: where it is in the generated split file. */
  generated?: { file: string; line: number; col: number };
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.col}` : d.file;
  const g = d.generated;
  const generated = g ? ` (generated ${g.file}${g.line > 0 ? `:${g.line}:${g.col}` : ''})` : '';
  return `${where}: ${d.severity}: ${d.message}${generated} [${d.code}]`;
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === 'error');
}

/** Collects diagnostics for one file instead of throwing, so all are reported at once. */
export class DiagnosticSink {
  readonly items: Diagnostic[] = [];
  constructor(readonly file: string) {}

  at(pos: { line: number; col: number } | undefined, severity: Severity, code: string, message: string): void {
    this.items.push({ file: this.file, line: pos?.line ?? 0, col: pos?.col ?? 0, severity, message, code });
  }
  error(pos: { line: number; col: number } | undefined, code: string, message: string): void {
    this.at(pos, 'error', code, message);
  }
  warning(pos: { line: number; col: number } | undefined, code: string, message: string): void {
    this.at(pos, 'warning', code, message);
  }
  note(pos: { line: number; col: number } | undefined, code: string, message: string): void {
    this.at(pos, 'note', code, message);
  }
  get failed(): boolean {
    return hasErrors(this.items);
  }
}
