import type { CommandSpec, OptionsOf } from '@klp-split/core';

/** `klp-split split` and the executor @klp-split/nx:split: one definition of their options. */
export const SPLIT_COMMAND = {
  name: 'split',
  summary: 'Splits a livepatch (one source, or the files of one livepatch module) into a main module for vmlinux and one module per patched kernel module, with klp-split.json (klp-split split).',
  usage: 'klp-split split <livepatch.c>... --out <dir> [--kdir <dir> | --kernel <release>] [--target <ko>]... [--force] [--json]',
  about: `Splits one livepatch source into a main module for vmlinux and one module
per patched kernel module (<patch>__<object>.c), with klp-split.json.
A livepatch module built from several files (fix-y := a.o b.o in the
Makefile next to them, or the files given together) is read as one unit.
Code goes to the part of the object whose symbols it uses (its
annotations, --target, the kernel's symbols): init work for a module
moves into that module's per-object init; what cannot be placed is
refused at its line. Nothing is written when an error is reported.
The livepatch's own headers (#include "x.h") are copied into <dir>; the
shared header is <patch>.h, or <patch>-shared.h when the livepatch has a
<patch>.h. The main module keeps every #include; with a kernel tree
(--kdir, --kernel, $KDIR or the installed kernel environment) a
per-object module drops a kernel header it surely does not need (nothing
it uses comes from it), and kbuild's preprocessor evaluates names and #if
conditions only the compiler knows; without one, every #include is kept.`,
  after: `Writes are all or nothing: <dir> is locked (.klp-split.lock) while
written, files are staged and committed through a journal, and a run
interrupted halfway is completed or undone by the next one.

Exit status: 0 split (or already split), 1 errors in the source or not a
livepatch, 2 usage, input or environment error (also: another klp-split
is writing <dir>, or edited or foreign files would be replaced).`,
  options: {
    sources: { type: 'list', operand: true, required: true, value: 'livepatch .c file (or the files of one livepatch module)', path: true, description: "The livepatch's .c file, or the .c files of one livepatch module." },
    outputPath: { type: 'string', flag: 'out', short: 'o', required: true, value: '<dir>', path: true, description: 'The directory the split modules and klp-split.json are written to (created if needed).' },
    kdir: { type: 'string', value: '<dir>', path: true, description: "The kernel tree whose headers decide each part's #includes and whose kbuild preprocesses what only the compiler can evaluate; default: $KDIR, then the project's kernel environment, then the installed kernel's build tree." },
    kernel: { type: 'string', value: '<release>', description: "A kernel installed with 'klp-split kernel add' (e.g. 6.1.0-57-amd64): its headers are the kernel tree." },
    targets: { type: 'list', flag: 'target', short: 't', value: '<ko>', path: true, description: "A built target module (repeatable): its symbols and exports say which code touches it (code goes to the part of the module whose symbols it uses)." },
    kallsyms: { type: 'string', value: '<file>', path: true, description: "A /proc/kallsyms dump for vmlinux's symbols; default: the one scripts/qemu-kernel.sh cached for the tree's release." },
    allIncludes: { type: 'boolean', description: 'Keep every #include in every part.' },
    force: {
      type: 'boolean',
      description: 'Replace files in the output directory that klp-split did not write, and generated files edited since (klp-split.json records a sha256 of each); without it they are never replaced or deleted.',
    },
    json: { type: 'boolean', description: 'Print the result (files, manifest, diagnostics) as JSON.' },
  },
} as const satisfies CommandSpec;

export type SplitCommandOptions = OptionsOf<typeof SPLIT_COMMAND>;
