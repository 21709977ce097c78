import { basename } from 'node:path';
import { joinPathFragments, logger, writeJson, type Tree } from '@nx/devkit';
import { LIVEPATCH_MARKER, MODULE_MARKER } from '../../plugin/markers.js';
import { knownProjects, PROJECT_NAME, SOURCE_NAME } from '../known-projects.js';
import { workspaceDir } from '../workspace-dir.js';

/** Options of @klp-split/nx:livepatch (documented in schema.json). */
interface LivepatchGeneratorOptions {
  directory: string;
  source: string;
  targets?: string[];
}

/**
 * Adds a livepatch project: writes <directory>/klp-livepatch.json, which the
 * plugin turns into split/build/verify targets. The source is not created:
 * a livepatch is written by hand against the kernel it fixes.
 */
export default async function livepatchGenerator(tree: Tree, options: LivepatchGeneratorOptions): Promise<void> {
  const dir = workspaceDir(tree, options.directory);
  const name = basename(dir);
  const targets = options.targets ?? [];
  if (!PROJECT_NAME.test(name)) throw new Error(`livepatch: '${name}' is not a valid project name (letters, digits, '_', '.', '-')`);
  if (!SOURCE_NAME.test(options.source)) throw new Error(`livepatch: source '${options.source}' must be a .c file name in ${dir} (letters, digits, '_', '-')`);
  const marker = joinPathFragments(dir, LIVEPATCH_MARKER);
  if (tree.exists(marker)) throw new Error(`livepatch: ${marker} already exists`);

  const known = knownProjects(tree);
  if (known.all.has(name)) throw new Error(`livepatch: a project named '${name}' already exists`);
  // The verify target depends on each target's build: an unknown name would break the project graph.
  for (const t of targets) {
    if (!known.modules.has(t)) throw new Error(`livepatch: target '${t}' is not a module project (no ${MODULE_MARKER} names it)`);
  }

  writeJson(tree, marker, { name, source: options.source, targets });
  const source = joinPathFragments(dir, options.source);
  if (!tree.exists(source)) logger.warn(`livepatch: ${source} does not exist yet; write the livepatch there before running split`);
}
