import { KlpError } from '@klp-split/core';
import { basename } from 'node:path';
import { joinPathFragments, logger, writeJson, type Tree } from '@nx/devkit';
import { MODULE_MARKER } from '../../plugin/markers.js';
import { knownProjects, PROJECT_NAME, SOURCE_NAME } from '../known-projects.js';
import { workspaceDir } from '../workspace-dir.js';
import { generator } from '../run-generator.js';

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
export default generator(async function moduleGenerator(tree: Tree, options: ModuleGeneratorOptions): Promise<void> {
  const dir = workspaceDir(tree, options.directory);
  const name = options.name ?? basename(dir);
  if (!PROJECT_NAME.test(name)) throw new KlpError(`module: '${name}' is not a valid project name (letters, digits, '_', '.', '-')`, { code: 'project-name-invalid' });
  const marker = joinPathFragments(dir, MODULE_MARKER);
  if (tree.exists(marker)) throw new KlpError(`module: ${marker} already exists`, { code: 'marker-exists', file: marker });
  if (knownProjects(tree).all.has(name)) throw new KlpError(`module: a project named '${name}' already exists`, { code: 'project-exists' });
  // Without a list, the directory's module sources (kbuild's own *.mod.c are no sources).
  const sources = options.sources?.length
    ? options.sources
    : (tree.exists(dir) ? tree.children(dir) : []).filter((f) => SOURCE_NAME.test(f) && !f.endsWith('.mod.c') && tree.isFile(joinPathFragments(dir, f))).sort();
  if (sources.length === 0) throw new KlpError(`module: ${dir} has no .c file`, { code: 'no-sources', file: dir, hint: "give the module's sources with --sources" });
  for (const s of sources) {
    if (!SOURCE_NAME.test(s)) throw new KlpError(`module: source '${s}' must be a .c file name in ${dir} (letters, digits, '_', '-')`, { code: 'source-name-invalid' });
    if (!tree.exists(joinPathFragments(dir, s))) logger.warn(`module: ${joinPathFragments(dir, s)} does not exist yet; write it before running build`);
  }
  writeJson(tree, marker, { name, sources });
});
