import { EXIT_USAGE, KlpError } from '@klp-split/core';

/** The command line's exit status: one map for every command, defined in @klp-split/core. */
export { EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE } from '@klp-split/core';

/** A usage problem (bad arguments): printed as one line, exit status 2. */
export class UsageError extends KlpError {
  constructor(message: string, hint?: string) {
    super(message, { code: 'usage', hint, exit: EXIT_USAGE });
  }
  override format(): string {
    return `${this.message}${this.hint ? `\n  hint: ${this.hint}` : ''}`;
  }
}
