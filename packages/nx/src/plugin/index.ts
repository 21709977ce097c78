import { basename } from 'node:path';
import { KlpError } from './core-runtime.js';
import type { CreateNodesResult, CreateNodesV2 } from '@nx/devkit';
import { LIVEPATCH_MARKER, MODULE_MARKER, readLivepatchMarker as readLivepatch, readModuleMarker as readModule, type ModuleMarker } from './markers.js';
import { livepatchTargets, moduleTargets, targetNames, type KlpSplitPluginOptions } from './targets.js';

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

const readModuleMarker = (f: string, root: string) => reported(() => readModule(f, root));
const readLivepatchMarker = (f: string, root: string) => reported(() => readLivepatch(f, root));

/**
 * Infers a project for every klp-livepatch.json (targets split, build,
 * verify) and klp-module.json (target build) in the workspace.
 */
export const createNodesV2: CreateNodesV2<KlpSplitPluginOptions> = [
  `**/{${LIVEPATCH_MARKER},${MODULE_MARKER}}`,
  (files, options, context) => {
    const names = targetNames(options);
    const modules = new Map<string, ModuleMarker>();
    for (const f of files) {
      if (basename(f) !== MODULE_MARKER) continue;
      const m = readModuleMarker(f, context.workspaceRoot);
      modules.set(m.name, m);
    }
    return files.map((f): readonly [string, CreateNodesResult] => {
      if (basename(f) === MODULE_MARKER) {
        const m = readModuleMarker(f, context.workspaceRoot);
        return [f, { projects: { [m.root]: { name: m.name, root: m.root, tags: ['kernel-module'], targets: moduleTargets(m, names) } }}];
      }
      const lp = readLivepatchMarker(f, context.workspaceRoot);
      return [
        f,
        {
          projects: {
            [lp.root]: { name: lp.name, root: lp.root, tags: ['livepatch'], implicitDependencies: lp.targets, targets: livepatchTargets(lp, modules, names) },
          },
        },
      ];
    });
  },
];

export const createNodes = createNodesV2;
export const name = '@klp-split/nx';
