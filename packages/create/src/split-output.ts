import { builtParts, hasErrors, MANIFEST_FILE, withWriteTransaction, type Diagnostic } from '@klp-split/core';
import { previousGenerated, splitLivepatch, splitOutputBytes } from '@klp-split/splitter';

/**
 * `create --split`: the livepatch just written, split by the splitter (the
 * same function `klp-split split` calls) into a main module and one module
 * per patched kernel module, written as a whole into its own directory.
 */

export interface SplitOutcome {
  dir: string;
  modules: string[];
  written: string[];
  diagnostics: Diagnostic[];
}

export function splitCreated(source: string, dir: string, includeDirs: string[], force: boolean): SplitOutcome {
  const result = splitLivepatch([source], { includeDirs: [], sourceRelativeTo: dir, localHeaderDirs: includeDirs });
  const outcome: SplitOutcome = { dir, modules: [], written: [], diagnostics: result.diagnostics };
  if (result.kind !== 'split' || hasErrors(result.diagnostics)) {
    if (result.kind !== 'split') outcome.diagnostics.push({ file: source, line: 0, col: 0, severity: 'error', code: 'create-split-failed', message: `the splitter could not split the livepatch (${result.kind})` });
    return outcome;
  }
  const files = splitOutputBytes(result.files, result.manifest!, MANIFEST_FILE);
  const report = withWriteTransaction(dir, (tx) => tx.commit({ files, previous: previousGenerated(dir, MANIFEST_FILE), force }));
  outcome.modules = builtParts(result.manifest!).map((p) => p.module);
  outcome.written = report.written;
  return outcome;
}
