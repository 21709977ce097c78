import { basename } from 'node:path';
import { joinPathFragments, logger, writeJson, type Tree } from '@nx/devkit';
import { MODULE_MARKER } from '../../plugin/markers.js';
import { knownProjects, PROJECT_NAME, SOURCE_NAME } from '../known-projects.js';
import { workspaceDir } from '../workspace-dir.js';

/** Options of @klp-split/nx:module (documented in schema.json). */
interface ModuleGeneratorOptions {
  directory: string;
  sources?: string[];
  name?: string;
}

/**
 * Adds a kernel module project: writes <directory>/klp-module.json, from
 * which the plugin infers a kbuild build target (one per kernel when the
 * plugin lists kernels). Livepatch projects name it in their targets.
 */
export default async function moduleGenerator(tree: Tree, options: ModuleGeneratorOptions): Promise<void> {
  const dir = workspaceDir(tree, options.directory);
  const name = options.name ?? basename(dir);
  if (!PROJECT_NAME.test(name)) throw new Error(`module: '${name}' is not a valid project name (letters, digits, '_', '.', '-')`);
  const marker = joinPathFragments(dir, MODULE_MARKER);
  if (tree.exists(marker)) throw new Error(`module: ${marker} already exists`);
  if (knownProjects(tree).all.has(name)) throw new Error(`module: a project named '${name}' already exists`);
  // Without a list, the directory's module sources (kbuild's own *.mod.c are no sources).
  const sources = options.sources?.length
    ? options.sources
    : (tree.exists(dir) ? tree.children(dir) : []).filter((f) => SOURCE_NAME.test(f) && !f.endsWith('.mod.c') && tree.isFile(joinPathFragments(dir, f))).sort();
  if (sources.length === 0) throw new Error(`module: ${dir} has no .c file; give the module's sources with --sources`);
  for (const s of sources) {
    if (!SOURCE_NAME.test(s)) throw new Error(`module: source '${s}' must be a .c file name in ${dir} (letters, digits, '_', '-')`);
    if (!tree.exists(joinPathFragments(dir, s))) logger.warn(`module: ${joinPathFragments(dir, s)} does not exist yet; write it before running build`);
  }
  writeJson(tree, marker, { name, sources });
}
