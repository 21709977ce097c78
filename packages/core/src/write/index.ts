export { contentHash } from './hash.js';
export { lockDir, LOCK_WAIT_MS, type DirLock } from './lock.js';
export { recoverDir, type Recovery } from './journal.js';
export { JOURNAL_FILE, LOCK_FILE, STAGING_DIR, isWriteLayerEntry } from './names.js';
export { withWriteTransaction, writeDir, WriteRefused, type Refusal, type WritePlan, type WriteReport, type WriteTransaction } from './transaction.js';
