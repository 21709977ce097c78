import { existsSync, lstatSync, mkdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { confinePath } from '../confine.js';
import { KlpError, fromSystemError, isSystemError } from '../errors.js';
import { writeStep } from './crash-hook.js';
import { syncDir, writeFileDurably } from './durable.js';
import { contentHash } from './hash.js';
import { applyJournal, recoverDir, writeJournal, type Journal, type Recovery } from './journal.js';
import { lockDir } from './lock.js';
import { isWriteLayerEntry, STAGING_DIR } from './names.js';

interface WritePlan {
  /** Every file the directory must hold afterwards (name relative to it) with its exact bytes. */
  files: Map<string, Buffer>;
  /**
   * Files an earlier run generated here, with the sha256 its record holds.
   * Those not in `files` are deleted; any whose content no longer matches its
   * hash, or whose record holds no hash (an older manifest: it may have been
   * edited), is neither replaced nor deleted without `force`. Names must
   * already be confined (readGeneratedRecord).
   */
  previous?: Map<string, string | undefined>;
  /** May an existing file that no earlier run recorded be replaced? Default: no (unless `force`). */
  mayReplace?: (name: string, current: Buffer) => boolean;
  /** Replace and delete edited and foreign files too. */
  force?: boolean;
  /** Delete the `previous` files that `files` no longer holds (default true; convert only adds and changes). */
  deleteStale?: boolean;
}

export interface WriteReport {
  written: string[];
  unchanged: string[];
  removed: string[];
}

interface Refusal {
  name: string;
  why: 'edited' | 'foreign' | 'unhashed';
}

const REFUSAL_WORDS: Record<Refusal['why'], string> = {
  edited: 'edited since klp-split wrote it',
  foreign: 'not written by klp-split',
  unhashed: 'recorded without a hash by an older klp-split, so it may have been edited',
};

/** Nothing was written because files would be lost: each named with why. Exit 2. */
export class WriteRefused extends KlpError {
  constructor(
    readonly refusals: Refusal[],
    dir: string,
  ) {
    const list = refusals.map((r) => `'${r.name}' (${REFUSAL_WORDS[r.why]})`).join(', ');
    super(`nothing written: would replace or delete ${list}`, {
      code: 'write-refused',
      file: dir,
      hint: 'keep your changes elsewhere, or pass --force to replace them',
    });
  }
}

interface WriteTransaction {
  readonly dir: string;
  /** What the lock holder found and repaired before the body ran. */
  readonly recovered: Recovery;
  /** Writes the plan all or nothing. At most once per transaction. */
  commit(plan: WritePlan): WriteReport;
}

function wrapSystem<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isSystemError(e)) throw fromSystemError(e, what);
    throw e;
  }
}

/** Creates the directory when missing; refuses a path that is something else. Returns whether it was created. */
function ensureDir(dir: string, create: boolean): boolean {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new KlpError(`${dir} is not a directory`, { code: 'not-a-directory', hint: 'name a directory (it is created when missing)' });
    return false;
  }
  if (!create) throw new KlpError(`${dir} does not exist`, { code: 'no-such-directory' });
  wrapSystem(`cannot create ${dir}`, () => mkdirSync(dir, { recursive: true }));
  return true;
}

/**
 * Runs `body` with the directory locked and recovered from any interrupted
 * write, so what it reads is whole and what it commits lands as a whole.
 */
export function withWriteTransaction<T>(dirArg: string, body: (tx: WriteTransaction) => T, opts: { create?: boolean; waitMs?: number } = {}): T {
  const dir = resolve(dirArg);
  const created = ensureDir(dir, opts.create ?? true);
  let lock;
  try {
    lock = lockDir(dir, { waitMs: opts.waitMs });
  } catch (e) {
    if (created) removeIfEmpty(dir);
    throw e;
  }
  let commits = 0;
  try {
    const recovered = wrapSystem(`cannot recover ${dir}`, () => recoverDir(dir));
    const tx: WriteTransaction = {
      dir,
      recovered,
      commit(plan) {
        if (commits++) throw new Error('write transaction committed twice');
        return commitPlan(dir, plan);
      },
    };
    return body(tx);
  } finally {
    lock.release();
    // A directory this run created and left empty (nothing written, or a refused or failed write) goes again.
    if (created) removeIfEmpty(dir);
  }
}

function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    /* not empty, or gone */
  }
}

function readExisting(dir: string, name: string, path: string): Buffer | undefined {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return undefined;
  }
  if (st.isDirectory()) throw new KlpError(`'${name}' is a directory; klp-split would write a file there`, { code: 'output-is-directory', file: dir });
  return wrapSystem(`cannot read ${path}`, () => readFileSync(path));
}

function commitPlan(dir: string, plan: WritePlan): WriteReport {
  const report: WriteReport = { written: [], unchanged: [], removed: [] };
  const refusals: Refusal[] = [];
  const writes: { name: string; content: Buffer }[] = [];
  const deletes: string[] = [];
  const force = plan.force ?? false;
  const previous = plan.previous ?? new Map<string, string | undefined>();
  /** Why a recorded file may not be replaced or deleted without `force`, if it may not. */
  const edited = (name: string, current: Buffer): Refusal['why'] | undefined => {
    const recorded = previous.get(name);
    if (recorded === undefined) return 'unhashed';
    return contentHash(current) !== recorded ? 'edited' : undefined;
  };

  // Every name is confined and every refusal decided before the first change.
  for (const [name, content] of plan.files) {
    const path = confinePath(dir, name, { what: 'output file' });
    if (isWriteLayerEntry(name)) throw new KlpError(`'${name}' is a name the write layer keeps for itself`, { code: 'output-reserved', file: dir });
    const current = readExisting(dir, name, path);
    if (current === undefined) writes.push({ name, content });
    else if (current.equals(content)) report.unchanged.push(name);
    else {
      if (!force) {
        if (previous.has(name)) {
          const why = edited(name, current);
          if (why) refusals.push({ name, why });
        } else if (!plan.mayReplace?.(name, current)) refusals.push({ name, why: 'foreign' });
      }
      writes.push({ name, content });
    }
  }
  for (const name of plan.deleteStale === false ? [] : previous.keys()) {
    if (plan.files.has(name)) continue;
    const path = confinePath(dir, name, { what: 'generated file' });
    const current = readExisting(dir, name, path);
    if (current === undefined) continue;
    const why = force ? undefined : edited(name, current);
    if (why) refusals.push({ name, why });
    deletes.push(name);
  }
  if (refusals.length) throw new WriteRefused(refusals, dir);
  if (!writes.length && !deletes.length) return report;

  const staging = join(dir, STAGING_DIR);
  const journal: Journal = { version: 1, renames: [], deletes };
  try {
    mkdirSync(staging);
    writes.forEach((w, i) => {
      writeStep();
      writeFileDurably(join(staging, String(i)), w.content);
      journal.renames.push({ staged: String(i), to: w.name });
    });
    syncDir(staging);
    writeJournal(dir, journal);
  } catch (e) {
    // Not committed: the directory is as it was.
    rmSync(staging, { recursive: true, force: true });
    if (isSystemError(e)) throw fromSystemError(e, `cannot write ${dir}; nothing changed`);
    throw e;
  }
  try {
    applyJournal(dir, journal);
  } catch (e) {
    const k = isSystemError(e) ? fromSystemError(e, `write to ${dir} interrupted; the next klp-split run in it completes it`) : e;
    throw k;
  }
  report.written.push(...writes.map((w) => w.name));
  report.removed.push(...deletes);
  return report;
}

/** One commit in one transaction: the common case. */
export function writeDir(dir: string, plan: WritePlan, opts: { create?: boolean } = {}): WriteReport {
  return withWriteTransaction(dir, (tx) => tx.commit(plan), opts);
}
