/** The command line's exit status and its usage error: one map for every command, defined in @klp-split/core. */
export { EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError } from '@klp-split/core';
