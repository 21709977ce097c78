import { createHash } from 'node:crypto';
import { cpSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { klpSplit } from './env.js';
import { hashTree, sharedFixture } from './fixtures.js';

/** What `klp-split build` did to a directory kept by builtDir. */
export interface BuiltDir {
  /** The built copy (read only: copy it before building again in it, editing it or letting a command write into it). */
  dir: string;
  code: number;
  stdout: string;
  stderr: string;
}

/** The digest of a file's or directory's contents (names relative to it). */
function digest(path: string): string {
  const h = createHash('sha256');
  hashTree(h, path, path);
  return h.digest('hex').slice(0, 16);
}

/**
 * An argument as a key: a file an argument names (a --target module, a
 * --symbols file) by its contents, wherever it is; anything else as written.
 * A directory argument (--kdir) by its path, whose name is its key (as for
 * corpusTargets).
 */
function argKey(arg: string): string {
  if (!isAbsolute(arg)) return arg;
  const st = statSync(arg, { throwIfNoEntry: false });
  return st?.isFile() ? `file ${digest(arg)}` : arg;
}

/**
 * A directory the test prepared (a split, a converted tree, target sources)
 * copied into a shared fixture and built there by `klp-split build <copy>
 * ...args`: kbuild's outcome (the modules, the exit status, the whole output)
 * is a function of the directory's files, the files its arguments name, the
 * kernel headers and gcc and the tool, and is keyed by all of them. The
 * first run builds; a later one with the same inputs reads the same modules
 * and output. A failed build is kept too, for the suite whose subject it is.
 * The copy is built under the fixture as `<fixture>/build`: output that names
 * the directory names the copy.
 */
export async function builtDir(name: string, src: string, args: string[] = []): Promise<BuiltDir> {
  const top = await sharedFixture(name, { facts: [`tree ${digest(src)}`, ...args.map((a) => `arg ${argKey(a)}`)] }, async (d) => {
    const dir = join(d, 'build');
    cpSync(src, dir, { recursive: true });
    const r = await klpSplit(['build', dir, ...args]);
    writeFileSync(join(d, 'outcome.json'), JSON.stringify(r));
  });
  return { dir: join(top, 'build'), ...(JSON.parse(readFileSync(join(top, 'outcome.json'), 'utf8')) as Omit<BuiltDir, 'dir'>) };
}
