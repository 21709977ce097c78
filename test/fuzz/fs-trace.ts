import { createRequire, syncBuiltinESMExports } from 'node:module';
import { resolve } from 'node:path';

/**
 * Records the files an in-process command opens, reads, writes, renames and
 * deletes, by wrapping node:fs's functions for the length of one run
 * (syncBuiltinESMExports carries the wrappers to every `import { x } from
 * 'node:fs'`). Existence checks and stats are not recorded: looking at a
 * path before refusing it is fine, reading through it is not.
 */

export type AccessKind = 'read' | 'write' | 'delete';

export interface Access {
  kind: AccessKind;
  op: string;
  path: string;
}

const require = createRequire(import.meta.url);
const fs = require('node:fs') as Record<string, unknown>;

/** fs function, its kind, and which arguments are paths. */
const WRAPPED: [string, AccessKind | ((args: unknown[]) => AccessKind), number[]][] = [
  ['readFileSync', 'read', [0]],
  ['openSync', (args) => (typeof args[1] === 'string' && /[wa+]/.test(args[1])) || (typeof args[1] === 'number' && (args[1] & 0o3) !== 0) ? 'write' : 'read', [0]],
  ['readdirSync', 'read', [0]],
  ['copyFileSync', 'write', [1]],
  ['cpSync', 'write', [1]],
  ['writeFileSync', 'write', [0]],
  ['appendFileSync', 'write', [0]],
  ['truncateSync', 'write', [0]],
  ['mkdirSync', 'write', [0]],
  ['mkdtempSync', 'write', [0]],
  ['symlinkSync', 'write', [1]],
  ['linkSync', 'write', [1]],
  ['chmodSync', 'write', [0]],
  ['utimesSync', 'write', [0]],
  ['renameSync', 'write', [1]],
  ['rmSync', 'delete', [0]],
  ['unlinkSync', 'delete', [0]],
  ['rmdirSync', 'delete', [0]],
  ['createReadStream', 'read', [0]],
  ['createWriteStream', 'write', [0]],
];

let active: Access[] | undefined;
/** While tracing: true for a write or delete that must not happen for real (see traced()). */
let refuse: ((a: Access) => boolean) | undefined;
const originals = new Map<string, (...args: unknown[]) => unknown>();

function install(): void {
  if (originals.size) return;
  for (const [name, kind, pathArgs] of WRAPPED) {
    const orig = fs[name] as ((...args: unknown[]) => unknown) | undefined;
    if (typeof orig !== 'function') continue;
    originals.set(name, orig);
    fs[name] = function traced(this: unknown, ...args: unknown[]) {
      if (active) {
        const k = typeof kind === 'function' ? kind(args) : kind;
        const seen: Access[] = [];
        for (const i of pathArgs) {
          const p = args[i];
          if (typeof p === 'string') seen.push({ kind: k, op: name, path: resolve(p) });
          else if (p instanceof URL) seen.push({ kind: k, op: name, path: p.pathname });
          else if (Buffer.isBuffer(p)) seen.push({ kind: k, op: name, path: resolve(p.toString('latin1')) });
        }
        // The source of a rename disappears: a delete there.
        if (name === 'renameSync' && typeof args[0] === 'string') seen.push({ kind: 'delete', op: name, path: resolve(args[0]) });
        active.push(...seen);
        const blocked = seen.find((a) => a.kind !== 'read' && refuse?.(a));
        if (blocked) {
          // The fuzzer runs as whatever user runs the tests (root in CI): a defect that deletes
          // /etc/passwd must be reported, not carried out. The access is recorded above.
          const e = new Error(`EPERM: operation not permitted by the fuzz harness, ${name} '${blocked.path}'`) as NodeJS.ErrnoException;
          e.code = 'EPERM';
          e.syscall = name;
          e.path = blocked.path;
          throw e;
        }
      }
      return orig.apply(this, args);
    };
  }
  syncBuiltinESMExports();
}

/**
 * Runs fn with every file access recorded. Writes and deletes for which
 * `refuseWrite` is true fail with EPERM instead of happening: the harness's
 * physical fence around the machine, beside the oracles that report them.
 */
export async function traced<T>(fn: () => Promise<T> | T, refuseWrite?: (a: Access) => boolean): Promise<{ value: T; accesses: Access[] }> {
  install();
  const accesses: Access[] = [];
  const outer = active;
  const outerRefuse = refuse;
  active = accesses;
  refuse = refuseWrite;
  try {
    const value = await fn();
    return { value, accesses };
  } finally {
    active = outer;
    refuse = outerRefuse;
  }
}
