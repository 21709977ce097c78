import type { CommandSpec, OptionsOf } from '@klp-split/core';

/** `klp-split build` and the executor @klp-split/nx:build: one definition of their options. */
export const BUILD_COMMAND = {
  name: 'build',
  summary: "Builds a directory with the kernel's kbuild (klp-split build): split modules (klp-split.json), a converted kernel source directory, or plain target modules (one per .c file).",
  usage: 'klp-split build <dir> [--kdir <dir> | --kernel <release>] [--jobs N] [--target <ko>]... [--force] [--json] [--quiet]',
  about: `Builds <dir> with the kernel's kbuild (make -C <kdir> M=<dir>):
- a directory with klp-split.json: its split modules, through the split
  livepatch API overlay, with a generated Kbuild;
- a directory 'klp-split convert' converted (<patch>.klp-split.json): with
  its own Makefile or Kbuild and the overlay, every CONFIG symbol of its
  obj- lines set to m (override with --config);
- any other directory: each *.c as one module (target modules), with the
  directory's own Kbuild or Makefile when it has one.
Livepatch modules (MODULE_INFO(livepatch, "Y"): split parts and classic
livepatches alike) are rewritten after the link: references the loader
cannot resolve become .klp.rela/.klp.sym livepatch relocations (in a
per-object part also its own target's exports). 'klp-split relocs <ko>'
lists them.`,
  after: 'Exit status: 0 built, 1 build errors, 2 usage or environment error.',
  options: {
    path: { type: 'string', operand: true, required: true, value: 'directory', path: true, description: 'The directory to build.' },
    outputPath: {
      type: 'string',
      flag: 'out',
      value: '<dir>',
      path: true,
      description: "Build a copy of the directory's module sources (.c, .h, Kbuild, Makefile) in this directory instead of in place, e.g. one directory per kernel.",
    },
    kdir: { type: 'string', value: '<dir>', path: true, description: "The kernel tree; default: $KDIR, then the project's kernel environment (scripts/kernel-env.sh), then /lib/modules/$(uname -r)/build." },
    kernel: { type: 'string', value: '<release>', description: "A kernel installed with 'klp-split kernel add' (e.g. 6.1.0-57-amd64): its headers are the tree." },
    jobs: { type: 'integer', short: 'j', minimum: 1, value: 'N', description: 'Parallel make jobs (default: the number of CPUs).' },
    config: { type: 'map', value: 'K=V', description: "A make variable, e.g. CONFIG_SAMPLE_LIVEPATCH=m; in a converted directory each obj- line's CONFIG symbol defaults to m." },
    symbols: { type: 'list', value: 'F', path: true, description: 'A Module.symvers of modules whose exports are used.' },
    targets: {
      type: 'list',
      flag: 'target',
      short: 't',
      value: '<ko>',
      path: true,
      description: 'A built target module: its symbols give the sympos of livepatch relocations against it, its exports the dependencies; without it sympos 0 is written unverified.',
    },
    kallsyms: { type: 'string', value: 'F', path: true, description: "A /proc/kallsyms dump for vmlinux's symbols (default: the one scripts/qemu-kernel.sh cached for the tree's release)." },
    klpRelocs: { type: 'boolean', default: true, description: 'Livepatch modules are rewritten after the link (livepatch relocations); --no-klp-relocs (Nx: klpRelocs false) leaves them as kbuild linked them.' },
    force: { type: 'boolean', description: 'Replace a Kbuild file that klp-split did not write.' },
    json: { type: 'boolean', description: 'Print the result as JSON.' },
    quiet: { type: 'boolean', short: 'q', description: 'No progress lines (the default when $CI is set).' },
  },
} as const satisfies CommandSpec;

export type BuildCommandOptions = OptionsOf<typeof BUILD_COMMAND>;
