import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TargetConfiguration } from '@nx/devkit';

type InputDefinition = NonNullable<TargetConfiguration['inputs']>[number];

/** @klp-split/nx's own directory: packages/nx in klp-split's repository, node_modules/@klp-split/nx when installed. */
const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const PACKAGE_NAME = '@klp-split/nx';

/** Every package whose code decides a klp-split result. */
const TOOL_PACKAGES = ['@klp-split/nx', '@klp-split/core', '@klp-split/kernel-facts', '@klp-split/splitter', '@klp-split/runtime-sim', '@klp-split/klp-relocs', '@klp-split/kbuild-gen'];

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

/** Whether the workspace's lock file records the installed package: then Nx has it as an external node. */
function lockedInWorkspace(workspaceRoot: string): boolean {
  for (const lock of ['package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lock']) {
    const file = join(workspaceRoot, lock);
    if (existsSync(file) && readFileSync(file, 'utf8').includes('@klp-split/nx')) return true;
  }
  return false;
}

/**
 * The bin as a path relative to the workspace root when one leads to it
 * (the package's own directory inside the workspace, else the installed
 * package under node_modules), else absolute.
 */
function binPath(workspaceRoot: string): string {
  const bin = join(PACKAGE_DIR, 'bin/klp-split.js');
  const rel = relative(workspaceRoot, bin);
  if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) return rel;
  const installed = join('node_modules', ...PACKAGE_NAME.split('/'), 'bin/klp-split.js');
  return existsSync(join(workspaceRoot, installed)) ? installed : bin;
}

/**
 * In klp-split's own repository its packages are workspace projects, not
 * external nodes: there the tool is their sources and scripts. Installed,
 * the tool is its packages' versions: `externalDependencies` when the
 * workspace's lock file has them, else the bin's --version (Nx refuses an
 * external dependency it has no node for).
 */
export function toolContext(workspaceRoot: string): ToolContext {
  const path = binPath(workspaceRoot);
  const cli = `node ${shellWord(path)}`;
  if (!isAbsolute(path) && !path.split(sep).includes('node_modules')) {
    const packages = relative(workspaceRoot, dirname(PACKAGE_DIR));
    return {
      cli,
      inputs: [`{workspaceRoot}/${packages}/*/src/**/*.ts`, `!{workspaceRoot}/${packages}/*/src/**/*.test.ts`, `{workspaceRoot}/${packages}/*/scripts/*.sh`],
    };
  }
  return { cli, inputs: lockedInWorkspace(workspaceRoot) ? [{ externalDependencies: TOOL_PACKAGES }] : [{ runtime: `${cli} --version` }] };
}
