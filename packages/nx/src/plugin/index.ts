import { basename } from 'node:path';
import { createNodesFromFiles, type CreateNodesContextV2, type CreateNodesResult, type CreateNodesV2 } from '@nx/devkit';
import { KlpError } from '@klp-split/core';
import { LIVEPATCH_MARKER, MODULE_MARKER, readLivepatchMarker, readModuleMarker, type LivepatchMarker, type ModuleMarker } from './markers.js';
import { livepatchTargets, moduleTargets, pluginKernels, targetNames, type KlpSplitPluginOptions } from './targets.js';
import { toolContext } from './tool-context.js';

export type { KlpSplitPluginOptions } from './targets.js';

/** Nx prints only an error's message: make it the whole diagnostic, the marker file first. */
function reported<T>(read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof KlpError) throw new Error(e.format(), { cause: e });
    throw e;
  }
}

type Read<T> = { ok: true; marker: T } | { ok: false; error: unknown };

function readOnce<T>(read: () => T): Read<T> {
  try {
    return { ok: true, marker: reported(read) };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * Infers a project for every klp-livepatch.json (targets split, build,
 * verify) and klp-module.json (target build) in the workspace; with the
 * option `kernels`, one task of each per kernel release.
 *
 * Every marker is read once: the module projects first (livepatches name
 * them), then each file's project through createNodesFromFiles, so that one
 * bad marker is reported with its file and the others still become projects.
 */
export const createNodesV2: CreateNodesV2<KlpSplitPluginOptions> = [
  `**/{${LIVEPATCH_MARKER},${MODULE_MARKER}}`,
  async (files, options, context: CreateNodesContextV2) => {
    const names = targetNames(options);
    const kernels = pluginKernels(options);
    const tool = toolContext(context.workspaceRoot);
    const read = new Map<string, Read<LivepatchMarker | ModuleMarker>>();
    const modules = new Map<string, ModuleMarker>();
    for (const f of files) {
      const r = basename(f) === MODULE_MARKER ? readOnce(() => readModuleMarker(f, context.workspaceRoot)) : readOnce(() => readLivepatchMarker(f, context.workspaceRoot));
      read.set(f, r);
      if (r.ok && basename(f) === MODULE_MARKER) modules.set(r.marker.name, r.marker as ModuleMarker);
    }
    return createNodesFromFiles(
      (f): CreateNodesResult => {
        const r = read.get(f)!;
        if (!r.ok) throw r.error;
        if (basename(f) === MODULE_MARKER) {
          const m = r.marker as ModuleMarker;
          return { projects: { [m.root]: { name: m.name, root: m.root, tags: ['kernel-module'], targets: moduleTargets(m, names, tool, kernels) } } };
        }
        const lp = r.marker as LivepatchMarker;
        return {
          projects: {
            [lp.root]: { name: lp.name, root: lp.root, tags: ['livepatch'], implicitDependencies: lp.targets, targets: livepatchTargets(lp, modules, names, tool, kernels) },
          },
        };
      },
      files,
      options,
      context,
    );
  },
];

export const createNodes = createNodesV2;
export const name = '@klp-split/nx';
