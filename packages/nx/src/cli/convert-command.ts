import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { discoverKernelTree, includeDirs, KernelTreeError } from '@klp-split/kbuild-gen';
import { hasErrors, writeFilesAtomically } from '@klp-split/splitter';
import { kbuildPreprocessor } from './split-command.js';
import { planConversion, type ConvertPlan } from '../convert/convert-dir.js';
import { unifiedDiff } from '../convert/unified-diff.js';
import { flag, parseCommandArgs, str } from './args.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from './exit-codes.js';
import { printDiagnostics, type Io } from './output.js';

export const CONVERT_HELP = `Usage: klp-split convert <dir> [--dry-run] [--kdir <dir>] [--all-includes] [--json]

Converts a kernel source directory in place: every livepatch .c becomes its
split main module, its per-object modules and shared header are added next
to it with a manifest <patch>.klp-split.json, and the directory's Makefile
or Kbuild gains the per-object modules under the same obj- condition.
Other sources and lines stay as they are. Nothing is written when an error
is reported; converting twice changes nothing.

  --dry-run       print the changes as a unified diff, write nothing
  --kdir <dir>    kernel tree whose headers decide each part's #includes
  --all-includes  keep every #include in every part
  --json          print the plan (files, sources, diagnostics) as JSON

Exit status: 0 converted, 1 errors in a source, 2 usage error.`;

export function conversionFor(dir: string, kdir: string | undefined, allIncludes: boolean): ConvertPlan {
  let dirs: string[] = [];
  if (!allIncludes) {
    try {
      dirs = includeDirs(discoverKernelTree({ kdir, install: false }));
    } catch (e) {
      if (kdir && e instanceof KernelTreeError) throw new UsageError(`convert: ${e.message}`);
    }
  }
  return planConversion(dir, { includeDirs: dirs, preprocess: kbuildPreprocessor(kdir) });
}

export function renderDiff(plan: ConvertPlan): string {
  return [...plan.files]
    .map(([name, text]) => {
      const path = join(plan.dir, name);
      return unifiedDiff(existsSync(path) ? readFileSync(path, 'utf8') : undefined, text, name);
    })
    .join('');
}

export function convertCommand(argv: string[], io: Io): number {
  const args = parseCommandArgs('convert', argv, {
    'dry-run': { type: 'boolean', short: 'n' },
    kdir: { type: 'string' },
    'all-includes': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (flag(args, 'help')) {
    io.out(CONVERT_HELP);
    return EXIT_OK;
  }
  const [dirArg, ...extra] = args.positionals;
  if (!dirArg || extra.length) throw new UsageError('convert: give exactly one directory');
  const dir = resolve(dirArg);
  if (!existsSync(dir)) throw new UsageError(`convert: ${dirArg} does not exist`);
  const plan = conversionFor(dir, str(args, 'kdir'), flag(args, 'all-includes'));
  // Each livepatch stands alone: the ones that split are written, the others reported (exit 1).
  const failed = hasErrors(plan.diagnostics);
  const notConverted = plan.sources.filter((s) => s.kind === 'invalid');
  const dryRun = flag(args, 'dry-run');
  if (!dryRun && plan.files.size) writeFilesAtomically(dir, plan.files, { force: true });
  if (flag(args, 'json')) {
    io.out(JSON.stringify({ dir, dryRun, written: dryRun ? [] : [...plan.files.keys()], sources: plan.sources, notConverted: notConverted.map((s) => s.file), diagnostics: plan.diagnostics }, null, 2));
    return failed ? EXIT_FINDINGS : EXIT_OK;
  }
  printDiagnostics(io, plan.diagnostics.filter((d) => d.code !== 'not-livepatch'));
  if (dryRun) io.out(renderDiff(plan));
  const converted = plan.sources.filter((s) => s.kind === 'split');
  io.out(`convert ${dirArg}: ${converted.length} livepatch${converted.length === 1 ? '' : 'es'} split, ${plan.files.size} file${plan.files.size === 1 ? '' : 's'} ${dryRun ? 'would change' : 'written'}`);
  for (const s of converted) io.out(`  ${s.file}: ${s.modules.join(', ')}`);
  if (notConverted.length) io.out(`not converted (errors above): ${notConverted.map((s) => s.file).join(', ')}`);
  return failed ? EXIT_FINDINGS : EXIT_OK;
}
