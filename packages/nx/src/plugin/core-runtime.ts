/**
 * @klp-split/core for the Nx plugin, by relative path to its built files.
 *
 * Nx starts plugin workers with the workspace's TypeScript customConditions
 * as Node `--conditions` (here "source"), so a bare `@klp-split/core` import
 * from the plugin resolves to core's .ts sources, which Node 20 cannot load
 * as ESM ("Unknown file extension .ts"). The path below is the same from
 * packages/nx/{src,dist}/plugin to packages/core and from
 * node_modules/@klp-split/nx/dist/plugin to node_modules/@klp-split/core;
 * the CLI importing the same file gets the same module (Node resolves the
 * workspace link to this real path), so `instanceof KlpError` holds.
 */
export { confinePath, KlpError, parseJsonInput, readInputText } from '../../../core/dist/index.js';
