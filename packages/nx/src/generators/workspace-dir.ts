import { KlpError } from '@klp-split/core';
import { isAbsolute, relative, resolve } from 'node:path';
import { normalizePath, type Tree } from '@nx/devkit';

/**
 * A generator's directory option as a path relative to the workspace root
 * (the form Tree paths take). Absolute paths are accepted when inside the
 * workspace; anything outside it cannot be part of an Nx project.
 */
export function workspaceDir(tree: Tree, directory: string): string {
  const rel = normalizePath(relative(tree.root, resolve(tree.root, directory)));
  if (rel === '' || rel.startsWith('../') || rel === '..' || isAbsolute(rel)) {
    throw new KlpError(`'${directory}' is not a directory inside the workspace (${tree.root})`, { code: 'outside-workspace' });
  }
  return rel;
}
