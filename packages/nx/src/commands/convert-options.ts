import type { CommandSpec, OptionsOf } from '@klp-split/core';

/** `klp-split convert` and the generator @klp-split/nx:convert: one definition of their options. */
export const CONVERT_COMMAND = {
  name: 'convert',
  summary: "Converts a kernel source directory's livepatches to split form in place (klp-split convert): every livepatch .c becomes its split main module, its per-object modules and shared header are added with a manifest <patch>.klp-split.json, and the directory's Makefile or Kbuild gains the per-object modules.",
  usage: 'klp-split convert <dir> [--dry-run] [--kdir <dir>] [--target <ko>]... [--all-includes] [--force] [--json]',
  about: `Converts a kernel source directory in place: every livepatch .c becomes its
split main module, its per-object modules and shared header are added next
to it with a manifest <patch>.klp-split.json, and the directory's Makefile
or Kbuild gains the per-object modules under the same obj- condition.
Other sources and lines stay as they are. A livepatch module built from
several files (<module>-y := a.o b.o) is converted as one unit; per-object
modules drawing on several of its files get their own -y line. A livepatch
with errors is reported and left as it is, the others are converted;
converting twice changes nothing.`,
  after: `Writes are all or nothing: <dir> is locked (.klp-split.lock), files are
staged and committed through a journal, and a conversion interrupted
halfway is completed by the next run before it looks at the sources.
Each manifest records a sha256 of the files it generated; one edited since
is never replaced without --force.

Exit status: 0 converted, 1 errors in a source, 2 usage, input or
environment error (also: another klp-split is writing <dir>, or edited
files would be replaced).`,
  options: {
    directory: { type: 'string', operand: true, required: true, value: 'directory', path: true, prompt: 'Which directory should be converted?', description: 'The kernel source directory to convert (for example samples/livepatch).' },
    dryRun: { type: 'boolean', short: 'n', description: "Print the changes as a unified diff (git apply takes it where the command ran) and write nothing; Nx's own --dry-run does the same." },
    kdir: { type: 'string', value: '<dir>', path: true, description: "The kernel tree whose headers decide each part's #includes; default: $KDIR, then the project's kernel environment, then the installed kernel's build tree. Without any tree every #include is kept." },
    targets: { type: 'list', flag: 'target', short: 't', value: '<ko>', path: true, description: "A built target module (repeatable): its symbols and exports say which code touches it (code goes to the part of the module whose symbols it uses)." },
    kallsyms: { type: 'string', value: '<file>', path: true, description: "A /proc/kallsyms dump for vmlinux's symbols; default: the one scripts/qemu-kernel.sh cached for the tree's release." },
    allIncludes: { type: 'boolean', description: 'Keep every #include in every part.' },
    force: { type: 'boolean', description: 'Replace generated files edited since they were written, and files in the way that klp-split did not write.' },
    json: { type: 'boolean', description: 'Print the plan (files, sources, diagnostics) as JSON.' },
  },
} as const satisfies CommandSpec;

export type ConvertCommandOptions = OptionsOf<typeof CONVERT_COMMAND>;
