import { writeDir } from '../packages/core/dist/index.js';

/** Writes a split's files (name -> text) into `dir` through the project's one write layer. */
export function writeSplitFiles(dir, files) {
  writeDir(dir, { files: new Map([...files].map(([name, text]) => [name, Buffer.from(text)])) }, { create: true });
}
