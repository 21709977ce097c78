import type { CommandSpec, OptionsOf } from '@klp-split/core';

/** `klp-split report` and the executor @klp-split/nx:report: one definition of their options. */
export const REPORT_COMMAND = {
  name: 'report',
  summary: 'Collects the per-kernel verify results (out/<release>/verify.json) under the given directories into one table: livepatch x kernel, OK or the first finding (klp-split report).',
  usage: 'klp-split report [<dir>...] [--markdown <file>] [--sarif <file>] [--json]',
  about: `Collects the per-kernel verify results under <dir> (default: the current
directory), every out/<release>/verify.json the Nx plugin's verify:<release>
targets write, into one table: livepatch x kernel, OK or the first
finding in a few words.`,
  after: `Exit status: 0 every result OK, 1 findings on some kernel, 2 usage error
(also: no verify results found).`,
  options: {
    paths: { type: 'list', operand: true, value: 'directory', path: true, description: 'The directories to collect the verify results from (default: the current directory, in Nx the workspace root).' },
    markdown: { type: 'string', value: '<file>', path: true, description: 'Also write the table as Markdown (for a CI job summary).' },
    sarif: { type: 'string', value: '<file>', path: true, description: 'Also write SARIF 2.1.0 with one run per kernel.' },
    json: { type: 'boolean', description: 'Print the matrix as JSON instead of the table.' },
  },
} as const satisfies CommandSpec;

export type ReportCommandOptions = OptionsOf<typeof REPORT_COMMAND>;
