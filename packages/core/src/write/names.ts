/** The write layer's own entries in a directory it writes. */
export const LOCK_FILE = '.klp-split.lock';
export const JOURNAL_FILE = '.klp-split.journal';
export const JOURNAL_TMP = '.klp-split.journal.tmp';
export const STAGING_DIR = '.klp-split.staging';

/** Temporary files of the write scheme before the journal: split's and convert's `.<name>.klp-split-<pid>.tmp`. */
export const OLD_TEMP_FILE = /^\..+\.klp-split-\d+\.tmp$/;
/** ... and build's `Kbuild.<pid>.tmp`, `.klp-split/build.json.<pid>.tmp`. */
export const OLD_BUILD_TEMP_FILE = /^(Kbuild|\.klp-split\/build\.json)\.\d+\.tmp$/;

export function isWriteLayerEntry(name: string): boolean {
  return name === LOCK_FILE || name === JOURNAL_FILE || name === JOURNAL_TMP || name === STAGING_DIR || name.startsWith(`${LOCK_FILE}.`) || OLD_TEMP_FILE.test(name);
}
