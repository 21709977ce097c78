import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TargetConfiguration } from '@nx/devkit';

type InputDefinition = NonNullable<TargetConfiguration['inputs']>[number];

/** @klp-split/nx's own directory: packages/nx in klp-split's repository, node_modules/@klp-split/nx when installed. */
const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Every package whose code decides a klp-split result. */
export const TOOL_PACKAGES = ['@klp-split/nx', '@klp-split/core', '@klp-split/splitter', '@klp-split/kbuild-gen', '@klp-split/runtime-sim'];

/** One shell word: Nx runs runtime inputs in a shell. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A path as a shell word, quoted only when it has to be (the bin's path, shown in help commands). */
const shellWord = (s: string): string => (/^[A-Za-z0-9_./@+-]+$/.test(s) ? s : shellQuote(s));

/** How the targets of one workspace refer to the tool. */
export interface ToolContext {
  /** The package's bin as a command run from the workspace root (Nx's cwd for runtime inputs). */
  cli: string;
  /** The tool as a cache input of every target. */
  inputs: InputDefinition[];
}

/**
 * Installed (under node_modules, or outside the workspace), the tool is its
 * packages' versions (`externalDependencies`, from the lock file). In
 * klp-split's own repository its packages are workspace projects, not
 * external nodes: there the tool is their sources and scripts.
 */
export function toolContext(workspaceRoot: string): ToolContext {
  const bin = join(PACKAGE_DIR, 'bin/klp-split.js');
  const rel = relative(workspaceRoot, bin);
  const inside = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  const cli = `node ${shellWord(inside ? rel : bin)}`;
  if (inside && !rel.split(sep).includes('node_modules')) {
    const packages = relative(workspaceRoot, dirname(PACKAGE_DIR));
    return {
      cli,
      inputs: [`{workspaceRoot}/${packages}/*/src/**/*.ts`, `!{workspaceRoot}/${packages}/*/src/**/*.test.ts`, `{workspaceRoot}/${packages}/*/scripts/*.sh`],
    };
  }
  return { cli, inputs: [{ externalDependencies: TOOL_PACKAGES }] };
}
