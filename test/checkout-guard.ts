import { spawnSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';

/**
 * vitest's global set-up that keeps the checkout as it was: no test writes
 * into it (suites work in temporary directories and copies). What `git
 * status` lists (untracked and ignored files too, but node_modules and the
 * packages' dist/, which the set-up builds) before the run must be what it
 * lists after; anything new fails the run with its paths. Without git (not a
 * checkout) it checks nothing.
 */
function status(root: string): Set<string> | undefined {
  const r = spawnSync('git', ['status', '--porcelain', '--ignored', '--untracked-files=all'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return new Set(r.stdout.split('\n').filter((l) => l && !/^.. (node_modules\/|packages\/[^/]+\/dist\/)/.test(l)));
}

export default function setup(project: TestProject): () => void {
  const root = project.config.root;
  const before = status(root);
  return () => {
    const after = status(root);
    if (!before || !after) return;
    const changed = [...after].filter((l) => !before.has(l));
    if (changed.length) throw new Error(`the test run wrote into the checkout (tests must use temporary directories):\n${changed.join('\n')}`);
  };
}
