import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { confinePath, KlpError, readSourceText } from '@klp-split/core';

/**
 * A kernel source tree, read only: Debian's linux-source extracted into the
 * cache, or the user's own tree (--src). Every path comes from a patch or a
 * Makefile, so each is confined to the tree before it is read; the tree is
 * never written (fixes are applied to copies in memory).
 */
export class KernelSource {
  readonly root: string;
  readonly #texts = new Map<string, string | undefined>();

  constructor(root: string) {
    this.root = resolve(root);
    if (!existsSync(join(this.root, 'Makefile')) || !existsSync(join(this.root, 'Kbuild'))) {
      throw new KlpError(`${this.root} is not a kernel source tree (no top-level Makefile and Kbuild)`, { code: 'source-tree-invalid', hint: 'give the top of a kernel source tree with --src, or leave --src out for Debian\'s linux-source' });
    }
  }

  /** The absolute path of a tree-relative path, refused when it leaves the tree. */
  path(rel: string, what = 'path', at?: { file?: string; line?: number }): string {
    return confinePath(this.root, rel, { what, ...at });
  }

  isFile(rel: string): boolean {
    try {
      return statSync(this.path(rel)).isFile();
    } catch (e) {
      if (e instanceof KlpError) throw e;
      return false;
    }
  }

  isDir(rel: string): boolean {
    try {
      return statSync(this.path(rel)).isDirectory();
    } catch (e) {
      if (e instanceof KlpError) throw e;
      return false;
    }
  }

  /** A file's text (bounded, regular files only), or undefined when it does not exist. */
  read(rel: string): string | undefined {
    if (this.#texts.has(rel)) return this.#texts.get(rel);
    const text = this.isFile(rel) ? readSourceText(this.path(rel), { what: 'kernel source file' }) : undefined;
    this.#texts.set(rel, text);
    return text;
  }

  /** `6.1` from the top Makefile's VERSION and PATCHLEVEL (undefined when it does not say). */
  version(): string | undefined {
    const top = this.read('Makefile') ?? '';
    const v = /^VERSION\s*=\s*(\d+)/m.exec(top)?.[1];
    const p = /^PATCHLEVEL\s*=\s*(\d+)/m.exec(top)?.[1];
    return v && p ? `${v}.${p}` : undefined;
  }

  /** Names in a directory of the tree ([] when there is none). */
  list(rel: string): string[] {
    return this.isDir(rel) ? readdirSync(this.path(rel)) : [];
  }
}
