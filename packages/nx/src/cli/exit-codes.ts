/** The command line's exit status (documented in the README and in --help). */
export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;

/** A usage or environment problem: printed as one line, exit status 2. */
export class UsageError extends Error {}
