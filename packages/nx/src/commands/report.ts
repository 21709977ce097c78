import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type CommandContext, type CommandResult, pathIn, UsageError, writeReportFile } from '@klp-split/core';
import { explainCell } from '../report/explain.js';
import { cellText, collectMatrix, formatMatrixMarkdown, formatMatrixSarif, formatMatrixText } from '../report/matrix.js';
import type { ReportCommandOptions } from './report-options.js';

/**
 * `klp-split report` and @klp-split/nx:report: the livepatch x kernel matrix
 * of the verify results under the directories, printed as a table or JSON,
 * written as Markdown and SARIF (locations relative to the base directory)
 * when asked to.
 */
export function runReport(options: ReportCommandOptions, ctx: CommandContext): CommandResult {
  const given = options.paths?.length ? options.paths : ['.'];
  const roots = given.map((p) => pathIn(ctx, p));
  roots.forEach((r, i) => {
    if (!existsSync(r)) throw new UsageError(`report: ${given[i]} does not exist`);
  });
  const m = collectMatrix(roots);
  if (m.cells.length === 0) throw new UsageError(`report: no out/<release>/verify.json under ${given.join(', ')}`, 'run the verify targets first (nx run-many -t verify with the plugin option kernels)');
  if (options.markdown) writeReportFile(pathIn(ctx, options.markdown), formatMatrixMarkdown(m), 'Markdown report');
  if (options.sarif) writeReportFile(pathIn(ctx, options.sarif), formatMatrixSarif(m, resolve(ctx.base)), 'SARIF report');
  ctx.io.out(
    options.json
      ? JSON.stringify({ livepatches: m.livepatches, kernels: m.kernels, cells: m.cells.map((c) => ({ livepatch: c.livepatch, kernel: c.kernel, ok: c.report.ok, summary: cellText(c), finding: explainCell(c.report, c.kernel), file: c.file, diagnostics: c.report.diagnostics })) }, null, 2)
      : formatMatrixText(m),
  );
  const ok = m.cells.every((c) => c.report.ok);
  return { exitCode: ok ? 0 : 1, diagnostics: m.cells.flatMap((c) => c.report.diagnostics) };
}
