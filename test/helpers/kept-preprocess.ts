import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { KernelTree } from '@klp-split/core';
import { preprocessWithKbuild } from '@klp-split/kbuild-gen';
import { fixtureKey, fixturesDir } from './fixtures.js';

/**
 * The splitter's `preprocess` hook as the CLI gives it (kbuild's
 * preprocessor, `preprocessWithKbuild`), with each result kept under the
 * shared fixtures as `preprocess-<key>/` (swept after a week like the
 * others): the preprocessed text is a function of the tool, the kernel tree
 * and its headers and gcc, the source's text and base name (its module name)
 * and the headers beside it (which the preprocessor copies), and is keyed by
 * all of them. A make run costs seconds of CPU; a warm run reads the text.
 * For suites that call the splitter in-process with their own hook.
 */
export function keptPreprocess(tree: KernelTree): (path: string, source: string) => string {
  return (path, source) => {
    // The headers by name and text: the source's directory is a suite's temporary one, whose path is no key.
    const headers = readdirSync(dirname(path)).filter((n) => n.endsWith('.h')).sort().map((f) => `header ${f}\0${readFileSync(join(dirname(path), f), 'latin1')}`);
    const dir = join(fixturesDir(), `preprocess-${fixtureKey({ facts: [`tree ${tree.dir}`, `source ${basename(path)}\0${source}`, ...headers] })}`);
    const stamp = join(dir, '.complete');
    if (existsSync(stamp)) {
      const now = new Date();
      utimesSync(stamp, now, now);
      return readFileSync(join(dir, 'out.i'), 'latin1');
    }
    const text = preprocessWithKbuild(tree, path, source);
    // Written aside and renamed into place: a suite reading it meanwhile sees all of it or none.
    const tmp = `${dir}.${process.pid}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    writeFileSync(join(tmp, 'out.i'), text, 'latin1');
    writeFileSync(join(tmp, '.complete'), '');
    try {
      renameSync(tmp, dir);
    } catch {
      // Another suite kept the same text first.
      rmSync(tmp, { recursive: true, force: true });
    }
    return text;
  };
}
