import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type CommandContext, type CommandResult, MANIFEST_FILE, pathIn, readManifest, UsageError, writeReportFile } from '@klp-split/core';
import { discoverKernelTree } from '@klp-split/kernel-facts';
import { parseBudget } from '../check/budget.js';
import { formatVerifyJunit } from '../verify/report-junit.js';
import { formatVerifySarif } from '../verify/report-sarif.js';
import { formatVerifyText } from '../verify/report-text.js';
import { verifySplit, type VerifyReport } from '../verify/verify.js';
import type { VerifyCommandOptions } from './verify-options.js';

export interface VerifyCommandResult extends CommandResult {
  /** One report per livepatch: one for a split directory, one per manifest in a converted one. */
  reports: VerifyReport[];
}

/** A directory 'klp-split convert' wrote: one `<patch>.klp-split.json` per livepatch, and no klp-split.json. */
function convertedManifests(dir: string): { file: string; objects: string[] }[] | undefined {
  if (!existsSync(dir) || existsSync(join(dir, MANIFEST_FILE))) return undefined;
  const files = readdirSync(dir).filter((f) => f.endsWith(`.${MANIFEST_FILE}`)).sort();
  if (!files.length) return undefined;
  return files.map((file) => ({ file, objects: readManifest(join(dir, file), file).objNames }));
}

/** vmlinux's symbols: --kernel's kallsyms dump (through its kernel tree), else --kallsyms. */
function kallsymsDump(options: VerifyCommandOptions, ctx: CommandContext): string | undefined {
  if (options.kernel !== undefined) {
    const tree = discoverKernelTree({ kernel: options.kernel });
    if (!tree.kallsyms) throw new UsageError(`verify: kernel ${tree.release} has no kallsyms dump`, `run 'klp-split kernel add ${tree.release}'`);
    return tree.kallsyms;
  }
  const dump = options.kallsyms && pathIn(ctx, options.kallsyms);
  if (dump && !existsSync(dump)) throw new UsageError(`verify: kallsyms dump ${options.kallsyms} does not exist`);
  return dump;
}

/**
 * `klp-split verify` and @klp-split/nx:verify: reads the built modules of a
 * split (or converted) directory, checks them and simulates loading them
 * with their targets, prints the report in the format asked for and writes
 * the JSON report when asked to.
 */
export function runVerify(options: VerifyCommandOptions, ctx: CommandContext): VerifyCommandResult {
  const dir = pathIn(ctx, options.path);
  const format = options.json ? 'json' : options.format;
  const targets = (options.targets ?? []).map((t) => pathIn(ctx, t));
  targets.forEach((t, i) => {
    if (!existsSync(t)) throw new UsageError(`verify: target module ${options.targets![i]} does not exist`);
  });
  const kallsyms = kallsymsDump(options, ctx);
  const budget = options.budget === undefined ? undefined : parseBudget(options.budget);
  if (typeof budget === 'string') throw new UsageError(`verify: ${budget}`);
  const also = (options.also ?? []).map((a) => pathIn(ctx, a));
  also.forEach((a, i) => {
    if (!existsSync(join(a, MANIFEST_FILE))) throw new UsageError(`verify: --also ${options.also![i]} is not a split livepatch directory (no ${MANIFEST_FILE})`);
  });
  const sleeping = options.sleeping ?? [];
  for (const s of sleeping) if (!/^[A-Za-z0-9_-]+:[A-Za-z_]\w*$/.test(s)) throw new UsageError(`verify: --sleeping '${s}' is not <object>:<function> (vmlinux:cmdline_proc_show)`);
  const replayCommand = ['klp-split simulate', options.path, ...(options.targets ?? []).flatMap((t) => ['--target', t]), ...(options.also ?? []).flatMap((a) => ['--also', a])].join(' ');
  const shared = {
    also,
    sleeping: sleeping.map((s) => s.replace(/-/g, '_')),
    noExplore: !options.explore,
    allowUnchecked: options.allowUnchecked === true,
    kallsyms,
    onProgress: ctx.io.progress,
    budget,
    counterexamples: options.counterexamples && pathIn(ctx, options.counterexamples),
    replayCommand,
  };
  // Readers of the directory's data throw KlpError (file, code, hint): the adapters print it, exit 2.
  const converted = convertedManifests(dir);
  const reports: VerifyReport[] = converted
    ? converted.map((m) => verifySplit(dir, { ...shared, manifest: m.file, targets: targets.filter((t) => m.objects.includes(basename(t).replace(/\.ko$/, '').replace(/-/g, '_'))) }))
    : [verifySplit(dir, { ...shared, targets })];
  // The directory as the user named it: the same report from the command line and from Nx (whose cache restores it in other clones).
  const shown = reports.map((r) => ({ ...r, dir: options.path }));
  const json = `${JSON.stringify(shown.length === 1 ? shown[0] : shown, null, 2)}\n`;
  if (options.report) writeReportFile(pathIn(ctx, options.report), json, 'verify report');
  const formatted = { json, sarif: () => formatVerifySarif(reports), junit: () => formatVerifyJunit(reports), text: () => reports.map(formatVerifyText).join('\n') };
  ctx.io.out(format === 'json' ? json : formatted[format]());
  const ok = reports.every((r) => r.ok);
  return { exitCode: ok ? 0 : 1, diagnostics: reports.flatMap((r) => r.diagnostics), reports };
}
