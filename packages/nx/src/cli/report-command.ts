import { existsSync } from 'node:fs';
import { explainCell } from '../report/explain.js';
import { cellText, collectMatrix, formatMatrixMarkdown, formatMatrixSarif, formatMatrixText } from '../report/matrix.js';
import { flag, parseCommandArgs, str } from './args.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from './exit-codes.js';
import type { Io } from './output.js';
import { writeReportFile } from './report-file.js';

export const REPORT_HELP = `Usage: klp-split report [<dir>...] [--markdown <file>] [--sarif <file>] [--json]

Collects the per-kernel verify results under <dir> (default: the current
directory), every out/<release>/verify.json the Nx plugin's verify:<release>
targets write, into one table: livepatch x kernel, OK or the first
finding in a few words.

  --markdown <file>  also write the table as Markdown (for a CI job summary)
  --sarif <file>     also write SARIF 2.1.0 with one run per kernel
  --json             print the matrix as JSON instead of the table

Exit status: 0 every result OK, 1 findings on some kernel, 2 usage error
(also: no verify results found).`;

export function reportCommand(argv: string[], io: Io): number {
  const args = parseCommandArgs('report', argv, { markdown: { type: 'string' }, sarif: { type: 'string' }, json: { type: 'boolean' } });
  if (flag(args, 'help')) {
    io.out(REPORT_HELP);
    return EXIT_OK;
  }
  return reportMatrix(args.positionals.length ? args.positionals : ['.'], { markdown: str(args, 'markdown'), sarif: str(args, 'sarif'), json: flag(args, 'json') }, io);
}

export interface ReportOptions {
  markdown?: string;
  sarif?: string;
  json?: boolean;
  /** What SARIF locations are relative to (default: the current directory). */
  baseDir?: string;
  /** A root as messages show it (default: as given). */
  shown?: (root: string) => string;
}

/** The matrix of the verify results under `roots`: what `klp-split report` and the report executor run. */
export function reportMatrix(roots: string[], o: ReportOptions, io: Io): number {
  const shown = o.shown ?? ((r: string) => r);
  for (const r of roots) if (!existsSync(r)) throw new UsageError(`report: ${shown(r)} does not exist`);
  const m = collectMatrix(roots);
  if (m.cells.length === 0) throw new UsageError(`report: no out/<release>/verify.json under ${roots.map(shown).join(', ')}`, 'run the verify targets first (nx run-many -t verify with the plugin option kernels)');
  if (o.markdown) writeReportFile(o.markdown, formatMatrixMarkdown(m), 'Markdown report');
  if (o.sarif) writeReportFile(o.sarif, formatMatrixSarif(m, o.baseDir), 'SARIF report');
  io.out(o.json ? JSON.stringify({ livepatches: m.livepatches, kernels: m.kernels, cells: m.cells.map((c) => ({ livepatch: c.livepatch, kernel: c.kernel, ok: c.report.ok, summary: cellText(c), finding: explainCell(c.report, c.kernel), file: c.file, diagnostics: c.report.diagnostics })) }, null, 2) : formatMatrixText(m));
  return m.cells.every((c) => c.report.ok) ? EXIT_OK : EXIT_FINDINGS;
}
