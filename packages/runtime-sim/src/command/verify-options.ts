import type { CommandSpec, OptionsOf } from '@klp-split/core';

/** `klp-split verify` and the executor @klp-split/nx:verify: one definition of their options. */
export const VERIFY_COMMAND = {
  name: 'verify',
  summary: 'Checks built split modules against the split livepatch design and klp-split.json, and simulates loading them with their target modules (klp-split verify).',
  usage: 'klp-split verify <dir> --target <module.ko>... [--format text|json|sarif|junit] [--report <file>]',
  about: `Reads the built modules of <dir> (after 'klp-split build'; a directory 'klp-split
convert' wrote is verified patch by patch, <patch>.klp-split.json) as ELF files,
checks them against the split livepatch design and klp-split.json, and
simulates loading the targets and the patch in a kernel carrying the split
livepatch series: the per-object modules must be requested and loaded.`,
  after: 'Exit status: 0 consistent, 1 findings, 2 usage or environment error.',
  options: {
    path: { type: 'string', operand: true, required: true, value: 'directory', path: true, description: 'The directory of the built split modules (after build).' },
    targets: { type: 'list', flag: 'target', short: 't', value: '<ko>', path: true, description: 'A built target module the patch fixes; none for a livepatch of vmlinux only.' },
    format: {
      type: 'string',
      enum: ['text', 'json', 'sarif', 'junit'],
      default: 'text',
      value: '<fmt>',
      description: 'text, json (the report), sarif (SARIF 2.1.0, results at C source lines, paths relative to the current directory) or junit (a test case per module and scenario).',
    },
    json: { type: 'boolean', description: 'The same as --format json.' },
    allowUnchecked: { type: 'boolean', description: 'Per-object modules whose target is not given (and targets that are not objects of the patch) are warnings, not errors.' },
    also: {
      type: 'list',
      value: '<dir>',
      path: true,
      description: "Another built split livepatch the model check loads too, e.g. v1 when <dir> is its cumulative (replace) v2: the search then covers v1 and v2 loaded, replaced, disabled and removed in every order, and a reloaded copy of <dir>'s patch.",
    },
    sleeping: {
      type: 'list',
      value: '<object>:<function>',
      description: "A task that never reaches a safe point sleeps in that function: the patch's transition stalls and the model check also forces it (echo 1 > .../force); what a forced transition pins must stay loaded.",
    },
    explore: { type: 'boolean', default: true, description: "The model check runs: every load, unload and race of the patch and its targets at the kernel's interleaving points; --no-explore (Nx: explore false) skips it." },
    budget: {
      type: 'string',
      value: '<b>',
      description: "Stop the model check after a time (90s, 2m) and/or a number of states (200000), e.g. 2m,500000 (default 2m,1000000; 'unlimited' for no bound); the search also stops before the heap runs out; the report then says what was covered, with a model-check-incomplete warning.",
    },
    counterexamples: { type: 'string', value: '<dir>', path: true, description: "Write each violation's shortest counterexample there as a scenario that 'klp-split simulate --scenario' replays." },
    kallsyms: {
      type: 'string',
      value: '<file>',
      path: true,
      description: "A /proc/kallsyms dump of the kernel the patch targets, for vmlinux's old_name/old_sympos and relocations (default: $KLP_KALLSYMS, else the dump scripts/qemu-kernel.sh kallsyms cached for the kernel the modules were built for).",
    },
    kernel: { type: 'string', value: '<release>', description: "A kernel installed with 'klp-split kernel add' (e.g. 6.1.0-57-amd64): its kallsyms dump (instead of --kallsyms)." },
    report: { type: 'string', value: '<file>', path: true, description: 'Also write the JSON report to <file>.' },
    quiet: { type: 'boolean', short: 'q', description: 'No progress lines (the default when $CI is set).' },
  },
} as const satisfies CommandSpec;

export type VerifyCommandOptions = OptionsOf<typeof VERIFY_COMMAND>;
