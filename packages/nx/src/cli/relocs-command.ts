import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { readInput } from '@klp-split/core';
import { prepareOverlay } from '@klp-split/kbuild-gen';
import { discoverKernelTree, readElf } from '@klp-split/kernel-facts';
import { listLivepatchRelocations, loadFacts, rewriteModuleFile, SourceIndex } from '@klp-split/klp-relocs';
import { flag, list, parseCommandArgs, str } from './args.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from './exit-codes.js';
import { printDiagnostics, type Io } from './output.js';

export const RELOCS_HELP = `Usage: klp-split relocs <file.ko> [--json]
       klp-split relocs --write <file.ko> [--target <ko>]... [--kallsyms <file>] [--symbols <file>]... [--object <name>]...

Prints a livepatch module's livepatch relocations as the livepatch core reads
them: object of the .klp.rela section, symbol object, symbol, sympos, the
section and offset patched, relocation type; entries the kernel would refuse
are marked.

With --write, converts a livepatch module built elsewhere (in place): every
reference the module loader cannot resolve becomes a .klp.rela/.klp.sym
livepatch relocation, as 'klp-split build' does after the link. A module
named <patch>__<object> is taken as a per-object module of a split (its own
target's exports are converted too); any other as a classic livepatch of
vmlinux and the --object/--target objects. Nothing is written on errors.

  --target <ko>      a built target module (repeatable): its symbols and exports
  --kallsyms <file>  a /proc/kallsyms dump for vmlinux (default: the cached one)
  --symbols <file>   another Module.symvers whose exports stay normal relocations
  --object <name>    an object a classic livepatch fixes (repeatable)
  --kdir <dir>       kernel tree, for its Module.symvers (as for build)
  --json             print JSON

Exit status: 0 ok, 1 findings (relocations the kernel would refuse, or
symbols that cannot be converted), 2 usage or input error.`;

export async function relocsCommand(argv: string[], io: Io): Promise<number> {
  const args = parseCommandArgs('relocs', argv, {
    write: { type: 'boolean' },
    target: { type: 'string', multiple: true, short: 't' },
    kallsyms: { type: 'string' },
    symbols: { type: 'string', multiple: true },
    object: { type: 'string', multiple: true },
    kdir: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (flag(args, 'help')) {
    io.out(RELOCS_HELP);
    return EXIT_OK;
  }
  const [ko, ...extra] = args.positionals;
  if (!ko || extra.length) throw new UsageError('relocs: give exactly one .ko file');
  for (const f of [ko, ...list(args, 'target'), ...list(args, 'symbols'), ...[str(args, 'kallsyms')].filter((x): x is string => !!x)]) {
    if (!existsSync(f)) throw new UsageError(`relocs: ${f} does not exist`);
  }
  if (flag(args, 'write')) {
    const tree = discoverKernelTree({ kdir: str(args, 'kdir') });
    // The split API's klp_add_object (the overlay declares it a vmlinux export) and the exports of the modules
    // built next to this one (a split's main module exports to its parts) resolve as they did for modpost.
    const overlay = prepareOverlay(tree);
    const besides = join(dirname(resolve(ko)), 'Module.symvers');
    const facts = loadFacts({
      symvers: [tree.symvers, ...(overlay.extraSymvers ? [overlay.extraSymvers] : []), ...(existsSync(besides) ? [besides] : []), ...list(args, 'symbols')],
      targets: list(args, 'target'),
      kallsyms: str(args, 'kallsyms') ?? tree.kallsyms,
    });
    const outcome = rewriteModuleFile(ko, { objects: [...list(args, 'object'), ...facts.targetModules], facts, sources: SourceIndex.ofDirectory(dirname(resolve(ko))) });
    printDiagnostics(io, outcome.diagnostics);
    if (!outcome.livepatch) {
      io.err(`relocs: ${ko}: not a livepatch module (no MODULE_INFO(livepatch, "Y")); left unchanged`);
      return EXIT_FINDINGS;
    }
    if (flag(args, 'json')) io.out(JSON.stringify({ module: outcome.module, written: outcome.written, role: outcome.role, symbols: outcome.symbols, relocations: outcome.relocations, droppedVersions: outcome.droppedVersions, droppedDepends: outcome.droppedDepends, diagnostics: outcome.diagnostics }, null, 2));
    else if (outcome.written) io.out(`relocs ${ko}: ${outcome.symbols.length} symbol(s), ${outcome.relocations.length} relocation(s) converted: ${outcome.symbols.map((s) => `${s.name} -> ${s.klpName}`).join(', ')}`);
    else if (!outcome.diagnostics.some((d) => d.severity === 'error')) io.out(`relocs ${ko}: nothing to convert`);
    return outcome.diagnostics.some((d) => d.severity === 'error') ? EXIT_FINDINGS : EXIT_OK;
  }
  const elf = readElf(readInput(ko, 'elf'), ko);
  const listed = listLivepatchRelocations(elf);
  if (flag(args, 'json')) {
    io.out(JSON.stringify(listed, null, 2));
  } else if (listed.length === 0) {
    io.out(`${ko}: no livepatch relocations`);
  } else {
    const rows = [['OBJECT', 'SYM-OBJECT', 'SYMBOL', 'SYMPOS', 'SECTION+OFFSET', 'TYPE'], ...listed.map((r) => [r.lpObject, r.object, r.symbol, String(r.sympos), `${r.section}+0x${r.offset.toString(16)}`, r.type + (r.problem ? `  ! ${r.problem}` : '')])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) io.out(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
  }
  return listed.some((r) => r.problem) ? EXIT_FINDINGS : EXIT_OK;
}
