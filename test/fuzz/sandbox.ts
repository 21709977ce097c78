import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { setDefaultSandbox } from './run.js';

/**
 * A fuzz sandbox: one temporary directory holding
 *   sentinel/  files no command may read, write or delete (a victim, a secret, a livepatch outside the input)
 *   work/      the case's inputs and its output directory, emptied before every case
 * Everything outside the case's allowed directories is snapshotted (file
 * list and hashes) before and after each run; any difference is a write
 * or delete outside the output.
 */
export class Sandbox {
  readonly root: string;
  readonly sentinel: string;
  readonly work: string;
  /** A string only the sentinel's secret file holds: seen in any output, something read it. */
  readonly secret: string;

  constructor(name: string) {
    this.root = mkdtempSync(join(tmpdir(), `klp-split-fuzz-${name}-`));
    this.sentinel = join(this.root, 'sentinel');
    this.work = join(this.root, 'work');
    this.secret = `KLP-FUZZ-SECRET-${randomBytes(8).toString('hex')}`;
    this.plantSentinel();
    mkdirSync(this.work);
    setDefaultSandbox(this.root);
  }

  private plantSentinel(): void {
    mkdirSync(join(this.sentinel, 'lib'), { recursive: true });
    mkdirSync(join(this.sentinel, 'dir'), { recursive: true });
    writeFileSync(join(this.sentinel, 'victim.txt'), 'a file outside every output; nothing may touch it\n');
    writeFileSync(join(this.sentinel, 'secret.txt'), `${this.secret} this line must never be printed\n`);
    writeFileSync(join(this.sentinel, 'Module.symvers'), `0x00000000\t${this.secret}\tvmlinux\tEXPORT_SYMBOL\t\n`);
    writeFileSync(join(this.sentinel, 'lib/lp.c'), `/* ${this.secret} */\n#include <linux/module.h>\n`);
    writeFileSync(join(this.sentinel, 'dir/keep.c'), 'int keep;\n');
    writeFileSync(join(this.sentinel, 'klp-split.json'), '{"patch":"victim","parts":[]}\n');
  }

  /** Restores the sentinel after a run that changed it, so later cases start clean. */
  resetSentinel(): void {
    rmSync(this.sentinel, { recursive: true, force: true });
    this.plantSentinel();
    for (const f of readdirSync(this.root)) if (f !== 'sentinel' && f !== 'work') rmSync(join(this.root, f), { recursive: true, force: true });
  }

  /** Empties work/ for the next case. */
  clearWork(): void {
    rmSync(this.work, { recursive: true, force: true });
    mkdirSync(this.work);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Snapshot of the sandbox without the given (allowed) directories. */
  snapshot(allowed: string[]): Snapshot {
    return snapshotTree(this.root, allowed);
  }

  /** Paths inside the sentinel, by which a command must never reach it. */
  paths(): { victim: string; secret: string; symvers: string; lib: string; dir: string } {
    return {
      victim: join(this.sentinel, 'victim.txt'),
      secret: join(this.sentinel, 'secret.txt'),
      symvers: join(this.sentinel, 'Module.symvers'),
      lib: join(this.sentinel, 'lib'),
      dir: join(this.sentinel, 'dir'),
    };
  }

  link(target: string, at: string): void {
    symlinkSync(target, at);
  }
}

export type Snapshot = Map<string, string>;

/** Relative path to a content hash (files), link target (symlinks) or 'dir'. */
export function snapshotTree(root: string, skip: string[] = []): Snapshot {
  const out: Snapshot = new Map();
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (skip.some((s) => path === s || path.startsWith(s + sep))) continue;
      const rel = relative(root, path);
      let st;
      try {
        st = lstatSync(path);
      } catch {
        continue;
      }
      if (st.isSymbolicLink()) out.set(rel, `link:${readlinkSync(path)}`);
      else if (st.isDirectory()) {
        out.set(rel, 'dir');
        walk(path);
      } else if (st.isFile()) out.set(rel, createHash('sha1').update(readFileSync(path)).digest('hex'));
      else out.set(rel, 'special');
    }
  };
  walk(root);
  return out;
}

/** What changed between two snapshots: 'created x', 'deleted y', 'modified z'. */
export function diffSnapshots(before: Snapshot, after: Snapshot): string[] {
  const changes: string[] = [];
  for (const [p, h] of before) {
    if (!after.has(p)) changes.push(`deleted ${p}`);
    else if (after.get(p) !== h) changes.push(`modified ${p}`);
  }
  for (const p of after.keys()) if (!before.has(p)) changes.push(`created ${p}`);
  return changes;
}
