import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { withWriteTransaction, writeDir } from '@klp-split/core';
import { UsageError } from '../cli/exit-codes.js';

/**
 * Where `kernel add` puts an unpacked headers package, written like every
 * other output of klp-split: built in a staging directory beside its place
 * (`root.tmp-<pid>`, under a lock of the release's directory), moved into
 * place whole, and the staging directory removed whatever happens. A
 * package is data: its files are rewritten only as regular files of the
 * staging tree, never through a symbolic link it ships.
 */

const STAGE = /\.tmp-(\d+)$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Staging directories of `kernel add` runs that died (killed, power cut): nothing will finish them. */
function removeDeadStages(root: string): void {
  for (const name of readdirSync(dirname(root))) {
    const m = STAGE.exec(name);
    if (m && name.startsWith(`${basename(root)}.tmp-`) && !alive(Number(m[1]))) rmSync(join(dirname(root), name), { recursive: true, force: true });
  }
}

/**
 * Runs `fill` on a fresh staging directory; what it leaves in `<stage>/root`
 * replaces `root`. On any failure `root` is as it was and no staging
 * directory remains.
 */
export function replaceTreeFromStage(root: string, fill: (stage: string) => void): void {
  // The write layer's lock of the release's directory; the tree itself is moved into place whole, not committed file by file.
  withWriteTransaction(dirname(root), () => {
    const stage = `${root}.tmp-${process.pid}`;
    try {
      removeDeadStages(root);
      rmSync(stage, { recursive: true, force: true });
      mkdirSync(stage);
      fill(stage);
      rmSync(root, { recursive: true, force: true });
      renameSync(join(stage, 'root'), root);
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  });
}

/**
 * Points the absolute paths of Debian's layout into the place the tree will
 * have (`root`): the flavour Makefile's include of its -common tree, and
 * absolute symbolic links whose target the package itself ships. The
 * Makefile must be a regular file of the package; a link is left alone
 * when its target is not in the tree.
 */
export function adaptHeadersTree(stageRoot: string, root: string, release: string): void {
  const kdir = join(stageRoot, 'usr/src', `linux-headers-${release}`);
  const makefile = join(kdir, 'Makefile');
  const shown = `linux-headers-${release}/Makefile`;
  let kind: string;
  try {
    const s = lstatSync(makefile);
    kind = s.isFile() ? 'file' : s.isSymbolicLink() ? `a symbolic link (to ${readlinkSync(makefile)})` : 'not a regular file';
  } catch {
    kind = 'missing';
  }
  if (kind !== 'file') {
    throw new UsageError(`kernel add: ${shown} of the package is ${kind}: kernel add rewrites that file and never writes through a link or into anything else`, 'the package is not a Debian kernel headers package as kernel add knows them');
  }
  const text = readFileSync(makefile, 'utf8').replace(/^include \/usr\//gm, `include ${join(root, 'usr')}/`);
  writeDir(kdir, { files: new Map([['Makefile', Buffer.from(text)]]), force: true }, { create: false });
  const relink = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isSymbolicLink()) {
        const target = readlinkSync(p);
        // Only a target the package ships: inside the staging tree once `..` is resolved (a `/../..` one stays as it was).
        const inTree = join(stageRoot, target);
        if (target.startsWith('/') && !relative(stageRoot, inTree).startsWith('..') && existsSync(inTree)) {
          rmSync(p);
          symlinkSync(join(root, target), p);
        }
      } else if (e.isDirectory()) relink(p);
    }
  };
  relink(stageRoot);
}
