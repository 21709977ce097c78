import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { type CommandContext, type CommandResult, type Diagnostic, hasErrors, JOURNAL_FILE, pathIn, printDiagnostics, requireRegularFileIfPresent, UsageError, withWriteTransaction, type WriteReport } from '@klp-split/core';
import { planConversion, previousConversion, type ConvertPlan } from '../convert/convert-dir.js';
import { unifiedDiff } from '../convert/unified-diff.js';
import type { ConvertCommandOptions } from './convert-options.js';
import { symbolFacts } from './split-facts.js';
import { kbuildPreprocessor, kernelIncludeDirs, splitKernelTree } from './split-kernel.js';

export interface ConvertCommandResult extends CommandResult {
  plan: ConvertPlan;
  written: string[];
}

/** An older klp-split's interrupted write left temporary files: what it renamed already is beyond recovery. */
const OLD_SCHEME_WARNING: Diagnostic = {
  file: '.',
  line: 0,
  col: 0,
  severity: 'warning',
  code: 'interrupted-old-write',
  message: 'removed temporary files of an interrupted write by an older klp-split; files it had already replaced cannot be restored from here: compare the directory with version control',
};

const WRITE_PENDING: Diagnostic = { file: '.', line: 0, col: 0, severity: 'warning', message: 'an interrupted write is pending here; the next convert completes it first, so this preview may differ', code: 'write-pending' };

function conversionFor(dir: string, kdir: string | undefined, allIncludes: boolean, targets: string[], kallsyms: string | undefined): ConvertPlan {
  const tree = splitKernelTree({ kdir });
  return planConversion(dir, { includeDirs: allIncludes ? [] : kernelIncludeDirs(tree), preprocess: kbuildPreprocessor(tree), facts: symbolFacts('convert', tree, targets, kallsyms) });
}

/** The directory as diffs name it: relative to the base (so `git apply` takes the diff there), or nothing when outside it. */
function diffPrefix(ctx: CommandContext, dir: string): string {
  const rel = relative(resolve(ctx.base), dir);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? '' : `${rel}/`;
}

function renderDiff(plan: ConvertPlan, prefix: string): string {
  return [...plan.files]
    .map(([name, bytes]) => {
      const path = join(plan.dir, name);
      // latin1 both sides: every byte is one character, so bytes that are not UTF-8 show as they are.
      return unifiedDiff(existsSync(path) ? readFileSync(path, 'latin1') : undefined, bytes.toString('latin1'), `${prefix}${name}`);
    })
    .join('');
}

/**
 * `klp-split convert` and the generator @klp-split/nx:convert: plans the
 * conversion of every livepatch in a directory and writes it through the
 * write layer (locked, all or nothing, edited files refused without
 * --force), or prints it as a diff with dryRun.
 */
export function runConvert(options: ConvertCommandOptions, ctx: CommandContext): ConvertCommandResult {
  const dir = resolve(pathIn(ctx, options.directory));
  if (!existsSync(dir)) throw new UsageError(`convert: ${options.directory} does not exist`);
  for (const f of ['Kbuild', 'Makefile']) requireRegularFileIfPresent('convert', 'the build file', join(pathIn(ctx, options.directory), f));
  const planNow = (): ConvertPlan => conversionFor(dir, options.kdir && pathIn(ctx, options.kdir), options.allIncludes === true, (options.targets ?? []).map((t) => pathIn(ctx, t)), options.kallsyms && pathIn(ctx, options.kallsyms));
  let plan: ConvertPlan;
  let report: WriteReport | undefined;
  if (options.dryRun) {
    plan = planNow();
    if (existsSync(join(dir, JOURNAL_FILE))) plan.diagnostics.push(WRITE_PENDING);
  } else {
    // Locked and recovered before the sources are read: "already split" is decided on a whole directory.
    plan = withWriteTransaction(
      dir,
      (tx) => {
        const p = planNow();
        if (tx.recovered === 'old-scheme') p.diagnostics.push(OLD_SCHEME_WARNING);
        // Each livepatch stands alone: the ones that split are written, the others reported (exit 1).
        if (p.files.size) {
          // The livepatch sources and the Makefile are the user's files, converted in place on purpose;
          // any other file that is in the way, and generated files edited since their manifest
          // recorded them, are refused without --force.
          report = tx.commit({ files: p.files, previous: previousConversion(dir), mayReplace: (name) => p.inPlace.has(name), force: options.force === true, deleteStale: false });
        }
        return p;
      },
      { create: false },
    );
  }
  const written = report?.written ?? [];
  const exitCode = hasErrors(plan.diagnostics) ? 1 : 0;
  const notConverted = plan.sources.filter((s) => s.kind === 'invalid').map((s) => s.file);
  const { io } = ctx;
  if (options.json) {
    io.out(JSON.stringify({ dir, dryRun: options.dryRun === true, written, sources: plan.sources, notConverted, diagnostics: plan.diagnostics }, null, 2));
    return { exitCode, diagnostics: plan.diagnostics, plan, written };
  }
  // The plan names files in the directory: shown from where the command runs, as a compiler would.
  const shown = plan.diagnostics.filter((d) => d.code !== 'not-livepatch').map((d) => ({ ...d, file: isAbsolute(d.file) ? d.file : join(options.directory, d.file) }));
  printDiagnostics(io, shown);
  if (options.dryRun) io.out(renderDiff(plan, diffPrefix(ctx, dir)));
  const converted = plan.sources.filter((s) => s.kind === 'split');
  io.out(`convert ${options.directory}: ${converted.length} livepatch${converted.length === 1 ? '' : 'es'} split, ${plan.files.size} file${plan.files.size === 1 ? '' : 's'} ${options.dryRun ? 'would change' : 'written'}`);
  for (const s of converted) io.out(`  ${s.file}: ${s.modules.join(', ')}`);
  if (notConverted.length) io.out(`not converted (errors above): ${notConverted.join(', ')}`);
  return { exitCode, diagnostics: plan.diagnostics, plan, written };
}
