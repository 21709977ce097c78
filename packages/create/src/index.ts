export { createLivepatch, defaultName, type CreateResult } from './create.js';
export { CREATE_OPTIONS_SCHEMA, checkCreateOptions, type CreateOptions } from './options.js';
export { CREATE_RECORD, type CreateRecord, type CreateRecordObject } from './emit/record.js';
export { parseUnifiedDiff, PatchFormatError, type FilePatch, type Hunk } from './patch/unified-diff.js';
export type { SplitOutcome } from './split-output.js';
