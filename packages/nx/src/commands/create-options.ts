import type { CommandSpec, OptionsOf } from '@klp-split/core';

/** `klp-split create` and the executor @klp-split/nx:create: one definition of their options. */
export const CREATE_COMMAND = {
  name: 'create',
  summary: 'Makes a livepatch from a fix: applies unified diffs to the kernel source, finds the changed functions, checks them against the kernel binaries, and writes a classic livepatch directory (klp-split create).',
  usage: 'klp-split create <fix.patch>... --out <dir> [--name <patch>] [--kernel <release>] [--src <dir>] [--split] [--force] [--json]',
  about: `Makes a livepatch from a fix. The unified diffs (git format-patch, git diff,
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
<dir>/<patch>.c' splits it for the split livepatch kernel.`,
  after: `Exit status: 0 made, 1 the fix cannot be made into a livepatch (refusals at
the fix's lines, hunks that do not apply), 2 usage, input or environment
error.`,
  options: {
    patches: { type: 'list', operand: true, required: true, value: 'fix.patch', path: true, description: 'The fix: unified diffs (git format-patch, diff -up), applied in order.' },
    outputPath: { type: 'string', flag: 'out', short: 'o', required: true, value: '<dir>', path: true, description: 'The directory the livepatch is written to (created if needed).' },
    name: { type: 'string', value: '<patch>', description: "The livepatch module's name (default: livepatch_ and the first patch file's name)." },
    src: { type: 'string', value: '<dir>', path: true, description: "The kernel source tree the fix applies to (default: Debian's linux-source of the kernel, extracted once into the cache by scripts/kernel-env.sh --source)." },
    kdir: { type: 'string', value: '<dir>', path: true, description: "The kernel headers tree: its .config decides objects, its Module.symvers exports (default: the kernel environment's)." },
    kernel: { type: 'string', value: '<release>', description: "A kernel added with 'klp-split kernel add': its headers tree and binaries." },
    kallsyms: { type: 'string', value: '<file>', path: true, description: 'A /proc/kallsyms dump of that kernel (default: the cached one).' },
    vmlinuz: { type: 'string', value: '<file>', path: true, description: "The kernel image whose code is checked (default: the release's linux-image package)." },
    modulesDir: { type: 'string', flag: 'modules', value: '<dir>', path: true, description: "The /lib/modules/<release> directory of the target modules (default: the linux-image package's)." },
    split: { type: 'boolean', description: 'Also split the livepatch for the split livepatch kernel, into <out>/split.' },
    force: { type: 'boolean', description: 'Replace generated files edited since, and files klp-split did not write.' },
    json: { type: 'boolean', description: 'Print the result (files, objects, diagnostics) as JSON.' },
  },
} as const satisfies CommandSpec;

export type CreateCommandOptions = OptionsOf<typeof CREATE_COMMAND>;
