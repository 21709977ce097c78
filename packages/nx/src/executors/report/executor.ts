import type { ExecutorContext } from '@nx/devkit';
import { reportMatrix } from '../../cli/report-command.js';
import { EXIT_OK } from '../../cli/exit-codes.js';
import { runExecutor, shownPath, workspacePath, type ExecutorResult } from '../executor-run.js';

/** Options of @klp-split/nx:report (documented in schema.json). */
export interface ReportExecutorOptions {
  paths: string[];
  markdown?: string;
  sarif?: string;
  json?: boolean;
}

/**
 * The livepatch x kernel table of the per-kernel verify results: what
 * `klp-split report` does. The paths are options, never a command line (a
 * project directory named like shell syntax stays a path).
 */
export default async function reportExecutor(options: ReportExecutorOptions, context: ExecutorContext): Promise<ExecutorResult> {
  return runExecutor('report', (io) => {
    const at = (p: string | undefined) => p && workspacePath(context, p);
    const roots = options.paths.map((p) => workspacePath(context, p));
    return reportMatrix(roots, { markdown: at(options.markdown), sarif: at(options.sarif), json: options.json, baseDir: context.root, shown: shownPath }, io) === EXIT_OK;
  });
}
