import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ElfError, formatVerifyText, LayoutError, SymversError, verifySplit, VerifyError, type VerifyReport } from '@klp-split/runtime-sim';
import { flag, list, parseCommandArgs, str } from './args.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from './exit-codes.js';
import type { Io } from './output.js';

export const VERIFY_HELP = `Usage: klp-split verify <dir> --target <module.ko>... [--format text|json] [--report <file>]

Reads the built modules of <dir> (after 'klp-split build') as ELF files,
checks them against the split livepatch design and klp-split.json, and
simulates loading the targets and the patch in a kernel carrying the split
livepatch series: the per-object modules must be requested and loaded.

  --target <ko>      a target module the patch fixes (repeatable)
  --format <fmt>     text (default) or json
  --report <file>    also write the JSON report to <file>

Exit status: 0 consistent, 1 findings, 2 usage or environment error.`;

export function verifyCommand(argv: string[], io: Io): number {
  const args = parseCommandArgs('verify', argv, {
    target: { type: 'string', multiple: true, short: 't' },
    format: { type: 'string' },
    json: { type: 'boolean' },
    report: { type: 'string' },
  });
  if (flag(args, 'help')) {
    io.out(VERIFY_HELP);
    return EXIT_OK;
  }
  const [dir, ...extra] = args.positionals;
  if (!dir || extra.length) throw new UsageError('verify: give exactly one directory');
  const format = flag(args, 'json') ? 'json' : (str(args, 'format') ?? 'text');
  if (format !== 'text' && format !== 'json') throw new UsageError(`verify: unknown --format '${format}' (text or json)`);
  const targets = list(args, 'target');
  for (const t of targets) if (!existsSync(t)) throw new UsageError(`verify: target module ${t} does not exist`);
  let report: VerifyReport;
  try {
    report = verifySplit(dir, { targets });
  } catch (e) {
    if (e instanceof VerifyError || e instanceof LayoutError || e instanceof SymversError || e instanceof ElfError) throw new UsageError(`verify: ${e.message}`);
    throw e;
  }
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const reportFile = str(args, 'report');
  if (reportFile) {
    mkdirSync(dirname(reportFile), { recursive: true });
    writeFileSync(reportFile, json);
  }
  io.out(format === 'json' ? json : formatVerifyText(report));
  return report.ok ? EXIT_OK : EXIT_FINDINGS;
}
