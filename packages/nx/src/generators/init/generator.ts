import { basename, dirname } from 'node:path';
import { getProjects, glob, joinPathFragments, logger, readJson, writeJson, type Tree } from '@nx/devkit';
import { LIVEPATCH_MARKER, MODULE_MARKER } from '../../plugin/markers.js';
import { workspaceDir } from '../workspace-dir.js';

/** Options of @klp-split/nx:init (documented in schema.json). */
export interface InitGeneratorOptions {
  directory: string;
  source: string;
  targets?: string[];
}

/** Project names the plugin and the CLI's paths handle without quoting. */
const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** A kernel module source file: its name becomes the module's name. */
const SOURCE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]*\.c$/;

/** Names of every project in the tree, with the module projects' names apart. */
function knownProjects(tree: Tree): { all: Set<string>; modules: Set<string> } {
  const nameOf = (marker: string): string => {
    const j = readJson<{ name?: unknown }>(tree, marker);
    return typeof j.name === 'string' ? j.name : basename(dirname(marker));
  };
  const modules = new Set(glob(tree, [`**/${MODULE_MARKER}`]).map(nameOf));
  const livepatches = glob(tree, [`**/${LIVEPATCH_MARKER}`]).map(nameOf);
  return { all: new Set([...getProjects(tree).keys(), ...modules, ...livepatches]), modules };
}

/**
 * Adds a livepatch project: writes <directory>/klp-livepatch.json, which the
 * plugin turns into split/build/verify targets. The source is not created:
 * a livepatch is written by hand against the kernel it fixes.
 */
export default async function initGenerator(tree: Tree, options: InitGeneratorOptions): Promise<void> {
  const dir = workspaceDir(tree, options.directory);
  const name = basename(dir);
  const targets = options.targets ?? [];
  if (!PROJECT_NAME.test(name)) throw new Error(`init: '${name}' is not a valid project name (letters, digits, '_', '.', '-')`);
  if (!SOURCE_NAME.test(options.source)) throw new Error(`init: source '${options.source}' must be a .c file name in ${dir} (letters, digits, '_', '-')`);
  const marker = joinPathFragments(dir, LIVEPATCH_MARKER);
  if (tree.exists(marker)) throw new Error(`init: ${marker} already exists`);

  const known = knownProjects(tree);
  if (known.all.has(name)) throw new Error(`init: a project named '${name}' already exists`);
  // The verify target depends on each target's build: an unknown name would break the project graph.
  for (const t of targets) {
    if (!known.modules.has(t)) throw new Error(`init: target '${t}' is not a module project (no ${MODULE_MARKER} names it)`);
  }

  writeJson(tree, marker, { name, source: options.source, targets });
  const source = joinPathFragments(dir, options.source);
  if (!tree.exists(source)) logger.warn(`init: ${source} does not exist yet; write the livepatch there before running split`);
}
