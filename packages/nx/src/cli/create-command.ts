import { isAbsolute, relative } from 'node:path';
import { createLivepatch, type CreateOptions, type CreateResult } from '@klp-split/create';
import { flag, list, parseCommandArgs, str } from './args.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from './exit-codes.js';
import { requireRegularFile } from './input-files.js';
import { printDiagnostics, type Io } from './output.js';

export const CREATE_HELP = `Usage: klp-split create <fix.patch>... --out <dir> [--name <patch>] [--kernel <release>] [--src <dir>] [--split] [--force] [--json]

Makes a livepatch from a fix. The unified diffs (git format-patch, git diff,
diff -up; the -p level is found) are applied, in order, to copies of the
kernel source's files; the source tree is never written. Each file's
function definitions are compared before and after; each changed function's
object comes from kbuild's Makefiles and the kernel's .config, and is
checked against the kernel's binaries (vmlinux: the kallsyms dump and the
code of vmlinuz; a module: the distribution's .ko): a function the compiler
inlined everywhere is replaced through its callers, a static name that
occurs several times gets its old_sympos. What the replaced functions use
from their file is copied (types, macros, static inline helpers) or
referenced as the kernel's own (KLP_RELOC_SYMBOL_POS). Changed __init code,
changed data, struct layouts and assembly are refused at the fix's line.

Writes <dir>/<patch>.c, <dir>/Kbuild and <dir>/klp-create.json; then
'klp-split build <dir>' builds it for the stock kernel, 'klp-split split
<dir>/<patch>.c' splits it for the split livepatch kernel.

  --out <dir>         output directory (created if needed)
  --name <patch>      the livepatch module's name (default: livepatch_ and
                      the first patch file's name)
  --src <dir>         the kernel source tree the fix applies to (default:
                      Debian's linux-source of the kernel, extracted once
                      into the cache by scripts/kernel-env.sh --source)
  --kdir <dir>        the kernel headers tree (its .config and Module.symvers)
  --kernel <release>  a kernel added with 'klp-split kernel add': its headers
  --kallsyms <file>   a /proc/kallsyms dump of that kernel (default: cached)
  --vmlinuz <file>    its image (default: its linux-image package)
  --modules <dir>     its /lib/modules/<release> (default: the package's)
  --split             also split the livepatch into <dir>/split
  --force             replace generated files edited since, and foreign ones
  --json              print the result as JSON

Exit status: 0 made, 1 the fix cannot be made into a livepatch (refusals at
the fix's lines, hunks that do not apply), 2 usage, input or environment
error.`;

/** The command line as the options of the one create function. */
export function createOptionsOf(argv: string[]): { options: CreateOptions; json: boolean } | 'help' {
  const args = parseCommandArgs('create', argv, {
    out: { type: 'string', short: 'o' },
    name: { type: 'string' },
    src: { type: 'string' },
    kdir: { type: 'string' },
    kernel: { type: 'string' },
    kallsyms: { type: 'string' },
    vmlinuz: { type: 'string' },
    modules: { type: 'string' },
    split: { type: 'boolean' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (flag(args, 'help')) return 'help';
  const patches = args.positionals;
  if (!patches.length) throw new UsageError('create: give the fix (one or more .patch files)');
  const out = str(args, 'out');
  if (!out) throw new UsageError('create: --out <dir> is required');
  for (const p of patches) requireRegularFile('create', 'patch', p);
  for (const [opt, what] of [['kallsyms', '--kallsyms dump'], ['vmlinuz', '--vmlinuz image']] as const) {
    const f = str(args, opt);
    if (f !== undefined) requireRegularFile('create', what, f);
  }
  const options: CreateOptions = {
    patches,
    outputPath: out,
    name: str(args, 'name'),
    src: str(args, 'src'),
    kdir: str(args, 'kdir'),
    kernel: str(args, 'kernel'),
    kallsyms: str(args, 'kallsyms'),
    vmlinuz: str(args, 'vmlinuz'),
    modulesDir: list(args, 'modules')[0],
    split: flag(args, 'split') || undefined,
    force: flag(args, 'force') || undefined,
  };
  return { options, json: flag(args, 'json') };
}

/** What create made, and the commands that build it. */
export function printCreated(io: Io, r: CreateResult, shown: (p: string) => string = (p) => p): void {
  printDiagnostics(io, r.diagnostics);
  if (!r.ok) {
    io.out(`create ${r.name}: not created (errors above)`);
    return;
  }
  const out = shown(r.outputPath);
  io.out(`create ${r.name}: ${r.files.filter((f) => f.endsWith('.c')).join(', ')} in ${out}`);
  for (const o of r.objects) {
    io.out(`  ${o.object}: ${o.functions.map((f) => (f.sympos ? `${f.oldName},${f.sympos}` : f.oldName)).join(', ') || '(callbacks only)'}`);
  }
  const targets = r.objects.filter((o) => o.targetModule).map((o) => ` --target ${o.targetModule}`).join('');
  io.out(`build it: klp-split build ${out}${targets}`);
  if (r.split) io.out(`split: ${r.split.modules.join(', ')} in ${shown(r.split.dir)} (build it with --kdir <the split kernel's tree>)`);
}

export async function createCommand(argv: string[], io: Io): Promise<number> {
  const parsed = createOptionsOf(argv);
  if (parsed === 'help') {
    io.out(CREATE_HELP);
    return EXIT_OK;
  }
  const r = await createLivepatch(parsed.options);
  if (parsed.json) io.out(JSON.stringify({ ok: r.ok, name: r.name, out: r.outputPath, files: r.files, objects: r.objects, split: r.split, diagnostics: r.diagnostics }, null, 2));
  else printCreated(io, r, (p) => {
    const rel = relative(process.cwd(), p);
    return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? p : rel;
  });
  return r.ok ? EXIT_OK : EXIT_FINDINGS;
}
