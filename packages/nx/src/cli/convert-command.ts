import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { JOURNAL_FILE, withWriteTransaction, type WriteReport, hasErrors, type Diagnostic } from '@klp-split/core';
import { kbuildPreprocessor, kernelIncludeDirs, splitKernelTree } from './split-command.js';
import { planConversion, previousConversion, type ConvertPlan } from '../convert/convert-dir.js';
import { unifiedDiff } from '../convert/unified-diff.js';
import { flag, list, parseCommandArgs, str } from './args.js';
import { symbolFacts } from './split-facts.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from './exit-codes.js';
import { requireRegularFileIfPresent } from './input-files.js';
import { printDiagnostics, type Io } from './output.js';

export const CONVERT_HELP = `Usage: klp-split convert <dir> [--dry-run] [--kdir <dir>] [--target <ko>]... [--all-includes] [--force] [--json]

Converts a kernel source directory in place: every livepatch .c becomes its
split main module, its per-object modules and shared header are added next
to it with a manifest <patch>.klp-split.json, and the directory's Makefile
or Kbuild gains the per-object modules under the same obj- condition.
Other sources and lines stay as they are. A livepatch module built from
several files (<module>-y := a.o b.o) is converted as one unit; per-object
modules drawing on several of its files get their own -y line. A livepatch
with errors is reported and left as it is, the others are converted;
converting twice changes nothing.

Writes are all or nothing: <dir> is locked (.klp-split.lock), files are
staged and committed through a journal, and a conversion interrupted
halfway is completed by the next run before it looks at the sources.
Each manifest records a sha256 of the files it generated; one edited since
is never replaced without --force.

  --dry-run       print the changes as a unified diff, write nothing
  --kdir <dir>    kernel tree whose headers decide each part's #includes
  --target <ko>   a built target module (repeatable): its symbols and
                  exports say which code touches it (code goes to the
                  part of the module whose symbols it uses)
  --kallsyms F    a /proc/kallsyms dump for vmlinux's symbols
  --all-includes  keep every #include in every part
  --force         replace generated files edited since they were written,
                  and files in the way that klp-split did not write
  --json          print the plan (files, sources, diagnostics) as JSON

Exit status: 0 converted, 1 errors in a source, 2 usage, input or
environment error (also: another klp-split is writing <dir>, or edited
files would be replaced).`;

/** An older klp-split's interrupted write left temporary files: what it renamed already is beyond recovery. */
const OLD_SCHEME_WARNING = (file: string): Diagnostic => ({
  file,
  line: 0,
  col: 0,
  severity: 'warning',
  code: 'interrupted-old-write',
  message: 'removed temporary files of an interrupted write by an older klp-split; files it had already replaced cannot be restored from here: compare the directory with version control',
});

export function conversionFor(dir: string, kdir: string | undefined, allIncludes: boolean, targets: string[] = [], kallsyms?: string): ConvertPlan {
  const tree = splitKernelTree({ kdir });
  return planConversion(dir, { includeDirs: allIncludes ? [] : kernelIncludeDirs(tree), preprocess: kbuildPreprocessor(tree), facts: symbolFacts('convert', tree, targets, kallsyms) });
}

function renderDiff(plan: ConvertPlan): string {
  return [...plan.files]
    .map(([name, bytes]) => {
      const path = join(plan.dir, name);
      // latin1 both sides: every byte is one character, so bytes that are not UTF-8 show as they are.
      return unifiedDiff(existsSync(path) ? readFileSync(path, 'latin1') : undefined, bytes.toString('latin1'), name);
    })
    .join('');
}

export function convertCommand(argv: string[], io: Io): number {
  const args = parseCommandArgs('convert', argv, {
    'dry-run': { type: 'boolean', short: 'n' },
    kdir: { type: 'string' },
    'all-includes': { type: 'boolean' },
    target: { type: 'string', multiple: true, short: 't' },
    kallsyms: { type: 'string' },
    force: { type: 'boolean' },
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
  for (const f of ['Kbuild', 'Makefile']) requireRegularFileIfPresent('convert', 'the build file', join(dirArg, f));
  const dryRun = flag(args, 'dry-run');
  const planNow = (): ConvertPlan => conversionFor(dir, str(args, 'kdir'), flag(args, 'all-includes'), list(args, 'target'), str(args, 'kallsyms'));
  let plan: ConvertPlan;
  let report = undefined as WriteReport | undefined;
  if (dryRun) {
    plan = planNow();
    if (existsSync(join(dir, JOURNAL_FILE))) {
      plan.diagnostics.push({ file: dirArg, line: 0, col: 0, severity: 'warning', message: 'an interrupted write is pending here; the next convert completes it first, so this preview may differ', code: 'write-pending' });
    }
  } else {
    // Locked and recovered before the sources are read: "already split" is decided on a whole directory.
    plan = withWriteTransaction(
      dir,
      (tx) => {
        const p = planNow();
        if (tx.recovered === 'old-scheme') p.diagnostics.push(OLD_SCHEME_WARNING(dirArg));
        // Each livepatch stands alone: the ones that split are written, the others reported (exit 1).
        if (p.files.size) {
          // The livepatch sources and the Makefile are the user's files, converted in place on purpose;
          // any other file that is in the way, and generated files edited since their manifest
          // recorded them, are refused without --force.
          report = tx.commit({ files: p.files, previous: previousConversion(dir), mayReplace: (name) => p.inPlace.has(name), force: flag(args, 'force'), deleteStale: false });
        }
        return p;
      },
      { create: false },
    );
  }
  const failed = hasErrors(plan.diagnostics);
  const notConverted = plan.sources.filter((s) => s.kind === 'invalid');
  if (flag(args, 'json')) {
    io.out(JSON.stringify({ dir, dryRun, written: report?.written ?? [], sources: plan.sources, notConverted: notConverted.map((s) => s.file), diagnostics: plan.diagnostics }, null, 2));
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
