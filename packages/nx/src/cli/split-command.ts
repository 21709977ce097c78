import { resolve } from 'node:path';
import { preprocessWithKbuild } from '@klp-split/kbuild-gen';
import { discoverKernelTree, includeDirs } from '@klp-split/kernel-facts';
import { builtParts, withWriteTransaction, hasErrors, type KernelTree, MANIFEST_FILE } from '@klp-split/core';
import { previousGenerated, splitLivepatch, splitOutputBytes } from '@klp-split/splitter';
import { flag, list, parseCommandArgs, str } from './args.js';
import { symbolFacts } from './split-facts.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from './exit-codes.js';
import { printDiagnostics, type Io } from './output.js';

export const SPLIT_HELP = `Usage: klp-split split <livepatch.c>... --out <dir> [--kdir <dir>] [--target <ko>]... [--force] [--json]

Splits one livepatch source into a main module for vmlinux and one module
per patched kernel module (<patch>__<object>.c), with klp-split.json.
A livepatch module built from several files (fix-y := a.o b.o in the
Makefile next to them, or the files given together) is read as one unit.
Code goes to the part of the object whose symbols it uses (its
annotations, --target, the kernel's symbols): init work for a module
moves into that module's per-object init; what cannot be placed is
refused at its line. Nothing is written when an error is reported.
The livepatch's own headers (#include "x.h") are copied into <dir>; the
shared header is <patch>.h, or <patch>-shared.h when the livepatch has a
<patch>.h. The main module keeps every #include; with a kernel tree
(--kdir, $KDIR or the installed kernel environment) a per-object module
drops a kernel header it surely does not need (nothing it uses comes from
it); without one, it keeps them all.

  --out <dir>     output directory (created if needed)
  --kdir <dir>    kernel tree whose headers decide the #includes
  --target <ko>   a built target module (repeatable): its symbols and
                  exports say which code touches it
  --kallsyms F    a /proc/kallsyms dump for vmlinux's symbols (default: the
                  one scripts/qemu-kernel.sh cached for the tree's release)
  --all-includes  keep every #include in every part
  --force         replace files in <dir> that klp-split did not write, and
                  generated files edited since (klp-split.json records
                  a sha256 of each); without it they are never replaced
                  or deleted
  --json          print the result (files, manifest, diagnostics) as JSON

Writes are all or nothing: <dir> is locked (.klp-split.lock) while
written, files are staged and committed through a journal, and a run
interrupted halfway is completed or undone by the next one.

Exit status: 0 split (or already split), 1 errors in the source or not a
livepatch, 2 usage, input or environment error (also: another klp-split
is writing <dir>, or edited or foreign files would be replaced).`;

/**
 * The kernel tree whose headers a split reads, resolved once: the one
 * --kdir or --kernel names (an error when it is not a tree), else the
 * environment's when there is one (none: keep all includes, no preprocessor).
 */
export function splitKernelTree(opts: { kdir?: string; kernel?: string }): KernelTree | undefined {
  try {
    return discoverKernelTree({ ...opts, install: false });
  } catch (e) {
    if (opts.kdir || opts.kernel) throw e;
    return undefined;
  }
}

/** The kernel's include directories when a tree is at hand; none (keep all includes) otherwise. */
export function kernelIncludeDirs(tree: KernelTree | undefined): string[] {
  return tree ? includeDirs(tree) : [];
}

/** kbuild's preprocessor, for names and conditions only the compiler can evaluate; undefined without a tree. */
export function kbuildPreprocessor(tree: KernelTree | undefined): ((path: string, source: string) => string | undefined) | undefined {
  return tree && ((path, source) => preprocessWithKbuild(tree, path, source));
}

export function splitCommand(argv: string[], io: Io): number {
  const args = parseCommandArgs('split', argv, {
    out: { type: 'string', short: 'o' },
    kdir: { type: 'string' },
    'all-includes': { type: 'boolean' },
    target: { type: 'string', multiple: true, short: 't' },
    kallsyms: { type: 'string' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (flag(args, 'help')) {
    io.out(SPLIT_HELP);
    return EXIT_OK;
  }
  const files = args.positionals;
  const file = files[0];
  const out = str(args, 'out');
  if (!file) throw new UsageError('split: give the livepatch .c file (or the files of one livepatch module)');
  if (!out) throw new UsageError('split: --out <dir> is required');
  const tree = splitKernelTree({ kdir: str(args, 'kdir') });
  const facts = symbolFacts('split', tree, list(args, 'target'), str(args, 'kallsyms'));
  // A file that cannot be read, or input over a limit, is a KlpError naming it (exit 2); anything else thrown is
  // a defect of the splitter, which main() reports as one (exit 3), never as bad input.
  const result = splitLivepatch(files, { includeDirs: flag(args, 'all-includes') ? [] : kernelIncludeDirs(tree), preprocess: kbuildPreprocessor(tree), sourceRelativeTo: resolve(out), facts });
  let written: string[] = [];
  let removed: string[] = [];
  let status = result.kind === 'split' || result.kind === 'already-split' ? EXIT_OK : EXIT_FINDINGS;
  if (hasErrors(result.diagnostics)) status = EXIT_FINDINGS;
  if (result.kind === 'split' && status === EXIT_OK) {
    const dir = resolve(out);
    const files = splitOutputBytes(result.files, result.manifest!, MANIFEST_FILE);
    // The earlier manifest is read with the directory locked and recovered: it is whole.
    const report = withWriteTransaction(dir, (tx) => {
      if (tx.recovered === 'old-scheme') {
        result.diagnostics.push({ file: out, line: 0, col: 0, severity: 'warning', code: 'interrupted-old-write', message: 'removed temporary files of an interrupted write by an older klp-split' });
      }
      return tx.commit({ files, previous: previousGenerated(dir, MANIFEST_FILE), force: flag(args, 'force') });
    });
    written = report.written;
    removed = report.removed;
  }
  if (flag(args, 'json')) {
    io.out(JSON.stringify({ kind: result.kind, source: file, out, files: [...result.files.keys()], written, removed, manifest: result.manifest, diagnostics: result.diagnostics }, null, 2));
  } else {
    printDiagnostics(io, result.diagnostics);
    if (result.kind === 'split' && status === EXIT_OK) {
      const parts = builtParts(result.manifest!);
      io.out(`split ${file}: ${parts.length} module${parts.length === 1 ? '' : 's'} (${parts.map((p) => p.module).join(', ')}) in ${out}`);
      for (const name of result.files.keys()) io.out(`  ${written.includes(name) ? 'wrote    ' : 'unchanged'} ${name}`);
      for (const name of removed) io.out(`  removed   ${name}`);
    }
  }
  return status;
}
