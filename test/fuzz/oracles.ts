import { isAbsolute, relative, sep, join } from 'node:path';
import { homedir, tmpdir } from 'node:os';
import type { RunResult } from './run.js';
import { TIME_BOUND_MS } from './run.js';
import { diffSnapshots, type Sandbox, type Snapshot } from './sandbox.js';

/**
 * The oracles every fuzz input is judged by (issue 11): exit status 0, 1 or
 * 2 and never the internal error 3; no stack trace and no JavaScript
 * runtime message dressed as a diagnostic; no hang; nothing written or
 * deleted outside the output; nothing read from the sentinel, and its
 * secret never printed.
 */

/** One broken oracle: a short kind (for the figures) and the detail. */
export interface Violation {
  kind:
    | 'exit-code'
    | 'internal-error'
    | 'stack-trace'
    | 'js-error-text'
    | 'hang'
    | 'write-outside'
    | 'read-outside'
    | 'secret-leak'
    | 'escaped-exception'
    | 'content'
    | 'recovery'
    /** A temporary file left behind by a killed writer. */
    | 'half-written'
    /** An input the kernel refuses (or corrupts memory with) passed as fine. */
    | 'silently-wrong'
    /** verify and the simulator's load disagree on the same module. */
    | 'disagree'
    /** A wait that burned CPU instead of sleeping. */
    | 'spin';
  detail: string;
}

const STACK_LINE = /^\s+at (?:.+ \()?(?:file:\/\/|node:|\/)[^\n]*:\d+:\d+\)?$/m;
/** What V8 says when code meets data it did not expect: a defect, whatever exit status carries it. */
const JS_ERROR_TEXT =
  /Cannot read propert(?:y|ies) of|Cannot set propert(?:y|ies) of|is not a function|is not iterable|is not a constructor|Maximum call stack size exceeded|Invalid (?:array|string) length|Array buffer allocation failed|std::bad_alloc|JavaScript heap out of memory|\b(?:TypeError|RangeError|ReferenceError): /;

function within(base: string, path: string): boolean {
  const rel = relative(base, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** Where a command may write besides its output: the tool's cache and its own temporary build directories. */
const CACHE_DIRS = [join(homedir(), '.cache/klp-split'), ...(process.env.XDG_CACHE_HOME ? [join(process.env.XDG_CACHE_HOME, 'klp-split')] : [])];

export function checkRun(r: RunResult, opts: { timeBoundMs?: number; allowedExit?: number[] } = {}): Violation[] {
  const v: Violation[] = [];
  const text = `${r.stdout}\n${r.stderr}`;
  const bound = opts.timeBoundMs ?? TIME_BOUND_MS;
  if (r.escaped) v.push({ kind: 'escaped-exception', detail: `main() threw: ${r.escaped.split('\n')[0]}` });
  if (r.timedOut || r.ms > bound) v.push({ kind: 'hang', detail: `ran ${Math.round(r.ms)} ms (bound ${bound} ms)${r.timedOut ? ', killed' : ''}` });
  else if (r.signal) v.push({ kind: 'exit-code', detail: `killed by ${r.signal}` });
  if (r.code === 3 || /internal error/.test(text)) v.push({ kind: 'internal-error', detail: firstMatchLine(text, /internal error/) ?? `exit ${r.code}` });
  else if (r.code !== undefined && !(opts.allowedExit ?? [0, 1, 2]).includes(r.code)) v.push({ kind: 'exit-code', detail: `exit ${r.code}` });
  if (STACK_LINE.test(text)) v.push({ kind: 'stack-trace', detail: firstMatchLine(text, STACK_LINE) ?? '' });
  if (JS_ERROR_TEXT.test(text)) v.push({ kind: 'js-error-text', detail: firstMatchLine(text, JS_ERROR_TEXT) ?? '' });
  return v;
}

/** Writes and deletes only inside `allowed` (or the tool's cache and temporary build directories); no read of the sentinel. */
export function checkAccesses(r: RunResult, sandbox: Sandbox, allowed: string[]): Violation[] {
  const v: Violation[] = [];
  const seen = new Set<string>();
  for (const a of r.accesses ?? []) {
    const key = `${a.kind} ${a.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (a.kind === 'read') {
      if (within(sandbox.sentinel, a.path) || /^\/etc\/(?:passwd|shadow|hostname)$/.test(a.path)) v.push({ kind: 'read-outside', detail: `${a.op} ${a.path}` });
      continue;
    }
    const ok =
      allowed.some((d) => within(d, a.path)) ||
      (!within(sandbox.root, a.path) && (CACHE_DIRS.some((d) => within(d, a.path)) || (within(tmpdir(), a.path) && /klp-split/.test(relative(tmpdir(), a.path).split(sep)[0]!))));
    if (!ok) v.push({ kind: 'write-outside', detail: `${a.op} (${a.kind}) ${a.path}` });
  }
  return v;
}

/** The snapshot of everything but the allowed directories is unchanged, and the secret was not printed. */
export function checkSandbox(r: RunResult, sandbox: Sandbox, before: Snapshot, after: Snapshot): Violation[] {
  const v: Violation[] = [];
  const changes = diffSnapshots(before, after);
  if (changes.length) v.push({ kind: 'write-outside', detail: changes.slice(0, 5).join(', ') });
  if (`${r.stdout}\n${r.stderr}`.includes(sandbox.secret)) v.push({ kind: 'secret-leak', detail: 'the sentinel secret file was printed' });
  return v;
}

function firstMatchLine(text: string, re: RegExp): string | undefined {
  const line = text.split('\n').find((l) => re.test(l));
  return line?.trim().slice(0, 300);
}
