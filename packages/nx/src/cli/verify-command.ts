import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MANIFEST_FILE, readManifest } from '@klp-split/core';
import { parseBudget, formatVerifyJunit, formatVerifySarif, formatVerifyText, verifySplit, type VerifyReport } from '@klp-split/runtime-sim';
import { flag, list, parseCommandArgs, str } from './args.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from './exit-codes.js';
import type { Io } from './output.js';
import { writeReportFile } from './report-file.js';
import { installedKernel } from '@klp-split/kernel-facts';

/** The kallsyms dump `klp-split kernel add` took of a release. */
function kernelKallsyms(release: string): string {
  const k = installedKernel(release);
  if (!k.kallsyms) throw new UsageError(`verify: kernel ${k.release} has no kallsyms dump`, `run 'klp-split kernel add ${k.release}'`);
  return k.kallsyms;
}

export const VERIFY_HELP = `Usage: klp-split verify <dir> --target <module.ko>... [--format text|json|sarif|junit] [--report <file>]

Reads the built modules of <dir> (after 'klp-split build'; a directory 'klp-split
convert' wrote is verified patch by patch, <patch>.klp-split.json) as ELF files,
checks them against the split livepatch design and klp-split.json, and
simulates loading the targets and the patch in a kernel carrying the split
livepatch series: the per-object modules must be requested and loaded.

  --target <ko>      a target module the patch fixes (repeatable)
  --format <fmt>     text (default), json, sarif (SARIF 2.1.0, results at C
                     source lines, paths relative to the current directory)
                     or junit (a test case per module and scenario)
  --json             the same as --format json
  --allow-unchecked  per-object modules whose target is not given (and targets
                     that are not objects of the patch) are warnings, not errors
  --also <dir>       another built split livepatch the model check loads too
                     (repeatable), e.g. v1 when <dir> is its cumulative
                     (replace) v2: the search then covers v1 and v2 loaded,
                     replaced, disabled and removed in every order, and a
                     reloaded copy of <dir>'s patch
  --sleeping <object>:<function>
                     a task that never reaches a safe point sleeps in that
                     function (repeatable): the patch's transition stalls and
                     the model check also forces it (echo 1 > .../force);
                     what a forced transition pins must stay loaded
  --no-explore       skip the model check (every load, unload and race of the
                     patch and its targets at the kernel's interleaving points)
  --budget <b>       stop the model check after a time (90s, 2m) and/or a number
                     of states (200000), e.g. 2m,500000 (default 2m,1000000;
                     'unlimited' for no bound); the search also stops before
                     the heap runs out; the report then says what was covered,
                     with a model-check-incomplete warning
  --counterexamples <dir>
                     write each violation's shortest counterexample there as a
                     scenario that 'klp-split simulate --scenario' replays
  --kallsyms <file>  a /proc/kallsyms dump of the kernel the patch targets, for
                     vmlinux's old_name/old_sympos and relocations (default:
                     $KLP_KALLSYMS, else the dump scripts/qemu-kernel.sh
                     kallsyms cached from booting Debian's kernel)
  --kernel <release> a kernel installed with 'klp-split kernel add': its
                     kallsyms dump (instead of --kallsyms)
  --report <file>    also write the JSON report to <file>
  --quiet            no progress lines (the default when $CI is set)

Exit status: 0 consistent, 1 findings, 2 usage or environment error.`;

export function verifyCommand(argv: string[], io: Io): number {
  const args = parseCommandArgs('verify', argv, {
    target: { type: 'string', multiple: true, short: 't' },
    format: { type: 'string' },
    json: { type: 'boolean' },
    report: { type: 'string' },
    'no-explore': { type: 'boolean' },
    'allow-unchecked': { type: 'boolean' },
    budget: { type: 'string' },
    counterexamples: { type: 'string' },
    kallsyms: { type: 'string' },
    kernel: { type: 'string' },
    also: { type: 'string', multiple: true },
    sleeping: { type: 'string', multiple: true },
    quiet: { type: 'boolean', short: 'q' },
  });
  if (flag(args, 'help')) {
    io.out(VERIFY_HELP);
    return EXIT_OK;
  }
  const [dir, ...extra] = args.positionals;
  if (!dir || extra.length) throw new UsageError('verify: give exactly one directory');
  const format = flag(args, 'json') ? 'json' : (str(args, 'format') ?? 'text');
  if (!['text', 'json', 'sarif', 'junit'].includes(format)) throw new UsageError(`verify: unknown --format '${format}' (text, json, sarif or junit)`);
  const targets = list(args, 'target');
  for (const t of targets) if (!existsSync(t)) throw new UsageError(`verify: target module ${t} does not exist`);
  const kallsyms = str(args, 'kernel') ? kernelKallsyms(str(args, 'kernel')!) : str(args, 'kallsyms');
  if (kallsyms && !existsSync(kallsyms)) throw new UsageError(`verify: kallsyms dump ${kallsyms} does not exist`);
  const budgetText = str(args, 'budget');
  const budget = budgetText === undefined ? undefined : parseBudget(budgetText);
  if (typeof budget === 'string') throw new UsageError(`verify: ${budget}`);
  const also = list(args, 'also');
  for (const a of also) if (!existsSync(join(a, MANIFEST_FILE))) throw new UsageError(`verify: --also ${a} is not a split livepatch directory (no ${MANIFEST_FILE})`);
  const replayCommand = ['klp-split simulate', dir, ...targets.flatMap((t) => ['--target', t]), ...also.flatMap((a) => ['--also', a])].join(' ');
  const sleeping = list(args, 'sleeping');
  for (const s of sleeping) if (!/^[A-Za-z0-9_-]+:[A-Za-z_]\w*$/.test(s)) throw new UsageError(`verify: --sleeping '${s}' is not <object>:<function> (vmlinux:cmdline_proc_show)`);
  const options = { also, sleeping: sleeping.map((s) => s.replace(/-/g, '_')), noExplore: flag(args, 'no-explore'), allowUnchecked: flag(args, 'allow-unchecked'), kallsyms, onProgress: io.progress, budget, counterexamples: str(args, 'counterexamples'), replayCommand };
  // Readers of the directory's data throw KlpError (file, code, hint); main() prints it and exits 2.
  const converted = convertedManifests(dir);
  const reports: VerifyReport[] = converted
    ? converted.map((m) => verifySplit(dir, { ...options, manifest: m.file, targets: targets.filter((t) => m.objects.includes(basename(t).replace(/\.ko$/, '').replace(/-/g, '_'))) }))
    : [verifySplit(dir, { ...options, targets })];
  const report = reports.length === 1 ? reports[0]! : undefined;
  const json = `${JSON.stringify(report ?? reports, null, 2)}\n`;
  const reportFile = str(args, 'report');
  if (reportFile) writeReportFile(reportFile, json, 'verify report');
  const formatted = { json, sarif: formatVerifySarif(reports), junit: formatVerifyJunit(reports), text: reports.map(formatVerifyText).join('\n') };
  io.out(formatted[format as keyof typeof formatted]);
  return reports.every((r) => r.ok) ? EXIT_OK : EXIT_FINDINGS;
}

/** A directory 'klp-split convert' wrote: one `<patch>.klp-split.json` per livepatch, and no klp-split.json. */
function convertedManifests(dir: string): { file: string; objects: string[] }[] | undefined {
  if (!existsSync(dir) || existsSync(join(dir, MANIFEST_FILE))) return undefined;
  const files = readdirSync(dir).filter((f) => f.endsWith(`.${MANIFEST_FILE}`)).sort();
  if (!files.length) return undefined;
  return files.map((file) => ({ file, objects: readManifest(join(dir, file), file).objNames }));
}
