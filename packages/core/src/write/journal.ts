import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { confinePath } from '../confine.js';
import { KlpError } from '../errors.js';
import { readInput } from '../read-input.js';
import { writeStep } from './crash-hook.js';
import { syncDir, writeFileDurably } from './durable.js';
import { JOURNAL_FILE, JOURNAL_TMP, OLD_BUILD_TEMP_FILE, OLD_TEMP_FILE, STAGING_DIR } from './names.js';

/**
 * The commit record of one write: which staged files become which names and
 * which names go. It is written whole (by rename) after every staged file is
 * on disk, so its presence means "roll forward" and its absence "roll back".
 */
export interface Journal {
  version: 1;
  /** Staged file (name inside the staging directory) to its final name. */
  renames: { staged: string; to: string }[];
  deletes: string[];
}

export function writeJournal(dir: string, journal: Journal): void {
  const tmp = join(dir, JOURNAL_TMP);
  rmSync(tmp, { force: true });
  writeStep();
  writeFileDurably(tmp, Buffer.from(`${JSON.stringify(journal)}\n`));
  renameSync(tmp, join(dir, JOURNAL_FILE));
  syncDir(dir);
}

/**
 * The write layer's own entries must be what it creates: a regular journal
 * file and a real staging directory. A link put in their place (a forged
 * journal naming files staged outside, a staging directory that is a link
 * out) would move files in from anywhere: refused before anything moves.
 */
function requireOwnEntry(dir: string, name: string, kind: 'file' | 'directory'): void {
  const path = join(dir, name);
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (kind === 'file' ? st.isFile() : st.isDirectory()) return;
  throw new KlpError(`${name} is ${st.isSymbolicLink() ? 'a symbolic link' : `not a ${kind}`}; klp-split never makes one there, so the unfinished write it claims to be is not one of klp-split's`, {
    code: 'write-entry-forged',
    file: path,
    hint: `inspect ${dir}, then remove ${JOURNAL_FILE} and ${STAGING_DIR}`,
  });
}

function readJournal(dir: string): Journal {
  const path = join(dir, JOURNAL_FILE);
  requireOwnEntry(dir, JOURNAL_FILE, 'file');
  requireOwnEntry(dir, STAGING_DIR, 'directory');
  let data: unknown;
  try {
    data = JSON.parse(readInput(path, 'json', { what: 'write journal' }).toString('utf8'));
  } catch {
    data = undefined;
  }
  const j = data as Partial<Journal> | undefined;
  const ok =
    j?.version === 1 &&
    Array.isArray(j.renames) &&
    j.renames.every((r) => typeof r?.staged === 'string' && /^\d+$/.test(r.staged) && typeof r.to === 'string') &&
    Array.isArray(j.deletes) &&
    j.deletes.every((d) => typeof d === 'string');
  if (!ok) {
    throw new KlpError(`unfinished write journal is not readable; the directory may be half written`, {
      code: 'journal-corrupt',
      file: path,
      hint: `inspect ${dir}, then remove ${JOURNAL_FILE} and ${STAGING_DIR}`,
    });
  }
  return j as Journal;
}

/** Performs a journal's renames and deletions; each is idempotent, so a run killed halfway can do it again. */
export function applyJournal(dir: string, journal: Journal): void {
  const staging = join(dir, STAGING_DIR);
  const where = { file: join(dir, JOURNAL_FILE) };
  // Every name is checked before the first change: a forged journal must not reach outside.
  const renames = journal.renames.map((r) => ({ from: join(staging, r.staged), to: confinePath(dir, r.to, { what: 'journal entry', ...where }) }));
  const deletes = journal.deletes.map((d) => confinePath(dir, d, { what: 'journal entry', ...where }));
  for (const r of renames) {
    // Only a staged regular file moves in: not a link (to anywhere), not a directory.
    if (!lstatSync(r.from, { throwIfNoEntry: false })?.isFile()) continue;
    mkdirSync(dirname(r.to), { recursive: true });
    writeStep();
    renameSync(r.from, r.to);
  }
  for (const d of deletes) {
    if (!existsSync(d)) continue;
    writeStep();
    rmSync(d, { force: true });
  }
  syncDir(dir);
  writeStep();
  rmSync(join(dir, JOURNAL_FILE), { force: true });
  rmSync(staging, { recursive: true, force: true });
  syncDir(dir);
}

/**
 * 'old-scheme': temporary files of an older klp-split's interrupted write were
 * removed; what it had already renamed into place cannot be told apart here.
 */
export type Recovery = 'none' | 'rolled-forward' | 'rolled-back' | 'old-scheme';

/**
 * Brings a directory left by an interrupted write back to a whole state
 * (called with the directory locked, before anything reads it): a journal is
 * finished, staging without a journal is dropped, temporary files of the old
 * write scheme are removed.
 */
export function recoverDir(dir: string): Recovery {
  let recovery: Recovery = 'none';
  const present = (name: string): boolean => lstatSync(join(dir, name), { throwIfNoEntry: false }) !== undefined;
  if (present(JOURNAL_FILE)) {
    applyJournal(dir, readJournal(dir));
    recovery = 'rolled-forward';
  } else if (present(STAGING_DIR)) {
    // A link there is removed, never followed.
    rmSync(join(dir, STAGING_DIR), { recursive: true, force: true });
    recovery = 'rolled-back';
  }
  rmSync(join(dir, JOURNAL_TMP), { force: true });
  const buildDir = join(dir, '.klp-split');
  const candidates = [...readdirSync(dir), ...(existsSync(buildDir) && statSync(buildDir).isDirectory() ? readdirSync(buildDir).map((n) => `.klp-split/${n}`) : [])];
  for (const name of candidates) {
    if (OLD_TEMP_FILE.test(name) || OLD_BUILD_TEMP_FILE.test(name)) {
      rmSync(join(dir, name), { force: true });
      recovery = 'old-scheme';
    }
  }
  return recovery;
}
