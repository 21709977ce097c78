import { readNxJson, updateNxJson, type Tree } from '@nx/devkit';
import { RELEASE } from '@klp-split/kernel-facts';

/** Options of @klp-split/nx:init (documented in schema.json). */
interface InitGeneratorOptions {
  kernels?: string[];
}

const PLUGIN = '@klp-split/nx';

/**
 * Registers the plugin in nx.json (`nx add @klp-split/nx` runs this), so that
 * every klp-livepatch.json and klp-module.json becomes a project. Run again
 * with --kernels it sets the kernels the targets are built for; an existing
 * registration keeps its other options.
 */
export default async function initGenerator(tree: Tree, options: InitGeneratorOptions): Promise<void> {
  for (const k of options.kernels ?? []) if (!RELEASE.test(k)) throw new Error(`init: '${k}' is not a kernel release (like 6.1.0-57-amd64)`);
  const nxJson = readNxJson(tree) ?? {};
  const plugins = nxJson.plugins ?? [];
  const at = plugins.findIndex((p) => (typeof p === 'string' ? p : p.plugin) === PLUGIN);
  const existing = at < 0 ? undefined : plugins[at]!;
  const oldOptions = existing && typeof existing !== 'string' ? ((existing.options ?? {}) as Record<string, unknown>) : {};
  const newOptions = options.kernels?.length ? { ...oldOptions, kernels: options.kernels } : oldOptions;
  const entry = Object.keys(newOptions).length ? { ...(existing && typeof existing !== 'string' ? existing : {}), plugin: PLUGIN, options: newOptions } : PLUGIN;
  nxJson.plugins = at < 0 ? [...plugins, entry] : plugins.map((p, i) => (i === at ? entry : p));
  updateNxJson(tree, nxJson);
}
