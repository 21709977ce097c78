import { resolve } from 'node:path';
import { builtParts, type CommandContext, type CommandResult, hasErrors, MANIFEST_FILE, pathIn, printDiagnostics, type SplitManifest, withWriteTransaction } from '@klp-split/core';
import { previousGenerated, splitLivepatch, splitOutputBytes, type SplitResult } from '@klp-split/splitter';
import { kbuildPreprocessor, kernelIncludeDirs, splitKernelTree } from './split-kernel.js';
import { symbolFacts } from './split-facts.js';
import type { SplitCommandOptions } from './split-options.js';

export interface SplitCommandResult extends CommandResult {
  kind: SplitResult['kind'];
  /** The split's files by name, and what the write changed. */
  files: string[];
  written: string[];
  removed: string[];
  manifest?: SplitManifest;
}

/**
 * `klp-split split` and @klp-split/nx:split: reads a livepatch (several
 * files of one module read as one unit), with the kernel tree's headers and
 * kbuild's preprocessor when there is a tree, and writes its split modules
 * and manifest through the write layer, all or nothing.
 */
export function runSplit(options: SplitCommandOptions, ctx: CommandContext): SplitCommandResult {
  const files = options.sources.map((f) => pathIn(ctx, f));
  const out = pathIn(ctx, options.outputPath);
  const tree = splitKernelTree({ kdir: options.kdir && pathIn(ctx, options.kdir), kernel: options.kernel });
  const facts = symbolFacts('split', tree, (options.targets ?? []).map((t) => pathIn(ctx, t)), options.kallsyms && pathIn(ctx, options.kallsyms));
  // A file that cannot be read, or input over a limit, is a KlpError naming it (exit 2); anything else thrown is
  // a defect of the splitter, reported as one (exit 3), never as bad input.
  const result = splitLivepatch(files, { includeDirs: options.allIncludes ? [] : kernelIncludeDirs(tree), preprocess: kbuildPreprocessor(tree), sourceRelativeTo: resolve(out), facts });
  let written: string[] = [];
  let removed: string[] = [];
  const ok = (result.kind === 'split' || result.kind === 'already-split') && !hasErrors(result.diagnostics);
  if (result.kind === 'split' && ok) {
    const bytes = splitOutputBytes(result.files, result.manifest!, MANIFEST_FILE);
    // The earlier manifest is read with the directory locked and recovered: it is whole.
    const report = withWriteTransaction(out, (tx) => {
      if (tx.recovered === 'old-scheme') {
        result.diagnostics.push({ file: options.outputPath, line: 0, col: 0, severity: 'warning', code: 'interrupted-old-write', message: 'removed temporary files of an interrupted write by an older klp-split' });
      }
      return tx.commit({ files: bytes, previous: previousGenerated(out, MANIFEST_FILE), force: options.force === true });
    });
    written = report.written;
    removed = report.removed;
  }
  const { io } = ctx;
  if (options.json) {
    io.out(JSON.stringify({ kind: result.kind, source: options.sources[0], out: options.outputPath, files: [...result.files.keys()], written, removed, manifest: result.manifest, diagnostics: result.diagnostics }, null, 2));
  } else {
    printDiagnostics(io, result.diagnostics);
    if (result.kind === 'split' && ok) {
      const parts = builtParts(result.manifest!);
      io.out(`split ${options.sources[0]}: ${parts.length} module${parts.length === 1 ? '' : 's'} (${parts.map((p) => p.module).join(', ')}) in ${options.outputPath}`);
      for (const name of result.files.keys()) io.out(`  ${written.includes(name) ? 'wrote    ' : 'unchanged'} ${name}`);
      for (const name of removed) io.out(`  removed   ${name}`);
    }
  }
  return { exitCode: ok ? 0 : 1, diagnostics: result.diagnostics, kind: result.kind, files: [...result.files.keys()], written, removed, manifest: result.manifest };
}
