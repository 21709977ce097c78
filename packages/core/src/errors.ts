/**
 * The one error type of the tool: everything that reads outside data
 * (manifests, build records, markers, kallsyms, Module.symvers, scenarios,
 * Makefiles, ELF files, sources) throws a KlpError, and every command maps
 * errors to exit codes through exitCodeFor().
 */

/** Exit codes of every command (documented in the README and in --help). */
export const EXIT_OK = 0;
/** Findings: errors in the sources, the build or the modules. */
export const EXIT_FINDINGS = 1;
/** Usage, input or environment error: the tool could not do its job on this input. */
export const EXIT_USAGE = 2;
/** A defect of the tool itself. */
const EXIT_INTERNAL = 3;

type ExitCode = typeof EXIT_OK | typeof EXIT_FINDINGS | typeof EXIT_USAGE | typeof EXIT_INTERNAL;

interface KlpErrorInit {
  /** Stable kebab-case code, printed as `[code]`. */
  code: string;
  /** The file the problem is in, as the user named it. */
  file?: string;
  /** 1-based; 0 or absent when there is no position. */
  line?: number;
  col?: number;
  /** What to do about it, one sentence. */
  hint?: string;
  cause?: unknown;
  /** Exit code; defaults to 2 (input or environment). */
  exit?: ExitCode;
}

export class KlpError extends Error {
  readonly code: string;
  readonly file?: string;
  readonly line: number;
  readonly col: number;
  readonly hint?: string;
  readonly exit: ExitCode;

  constructor(message: string, init: KlpErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'KlpError';
    this.code = init.code;
    this.file = init.file;
    this.line = init.line ?? 0;
    this.col = init.col ?? 0;
    this.hint = init.hint;
    this.exit = init.exit ?? EXIT_USAGE;
  }

  /** `file:line:col: error: message [code]`, with the hint on a second line. */
  format(): string {
    const where = this.file ? (this.line > 0 ? `${this.file}:${this.line}:${this.col || 1}: ` : `${this.file}: `) : '';
    const hint = this.hint ? `\n  hint: ${this.hint}` : '';
    return `${where}error: ${this.message} [${this.code}]${hint}`;
  }
}

/** A usage problem (bad arguments, a kernel that is not installed): printed as one line, exit status 2. */
export class UsageError extends KlpError {
  constructor(message: string, hint?: string) {
    super(message, { code: 'usage', hint, exit: EXIT_USAGE });
  }
  override format(): string {
    return `${this.message}${this.hint ? `\n  hint: ${this.hint}` : ''}`;
  }
}

/** Node's system errors that mean "this input or this environment", never a defect of the tool. */
const ENVIRONMENT_ERRNOS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a path component is not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EEXIST: 'already exists',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EIO: 'input/output error',
  EFBIG: 'file too large',
  EXDEV: 'cross-device link',
  EBUSY: 'resource busy',
  ETXTBSY: 'text file busy',
  ENOTEMPTY: 'directory not empty',
};

interface SystemError extends Error {
  code?: string;
  path?: string;
  dest?: string;
  syscall?: string;
}

export function isSystemError(e: unknown): e is SystemError {
  return e instanceof Error && typeof (e as SystemError).code === 'string' && (e as SystemError).code! in ENVIRONMENT_ERRNOS;
}

/** A Node system error (ENOENT, EACCES, ENOSPC, ...) as a KlpError naming the path and the operation. */
export function fromSystemError(e: SystemError, what?: string): KlpError {
  const errno = e.code ?? 'EIO';
  const op = e.syscall ? `${e.syscall} failed: ` : '';
  const subject = what ? `${what}: ` : '';
  return new KlpError(`${subject}${op}${ENVIRONMENT_ERRNOS[errno] ?? errno} (${errno})`, { code: `io-${errno.toLowerCase()}`, file: e.path, cause: e });
}

/** Turns anything thrown into a KlpError when it is about the input or the environment; undefined for a defect. */
function asKlpError(e: unknown): KlpError | undefined {
  if (e instanceof KlpError) return e;
  if (isSystemError(e)) return fromSystemError(e);
  return undefined;
}

/** The exit code for a thrown value: its own for a KlpError, 2 for the environment, 3 for anything else. */
export function exitCodeFor(e: unknown): ExitCode {
  const k = asKlpError(e);
  return k ? k.exit : EXIT_INTERNAL;
}

/**
 * What a command prints for a thrown value: the diagnostic line for input and
 * environment errors; for a defect a one-line internal error, with the stack
 * only when asked for (--debug).
 */
export function formatThrown(e: unknown, opts: { debug?: boolean; prefix?: string } = {}): string {
  const prefix = opts.prefix ?? 'klp-split';
  const k = asKlpError(e);
  const stack = opts.debug && e instanceof Error && e.stack ? `\n${e.stack}` : '';
  if (k) return `${prefix}: ${k.format()}${stack}`;
  const message = e instanceof Error ? e.message : String(e);
  return `${prefix}: internal error: ${message} [internal]${stack || '\n  hint: this is a defect of klp-split; run again with --debug for the stack trace and report it'}`;
}
