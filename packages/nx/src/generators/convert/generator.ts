import { type Tree } from '@nx/devkit';
import { checkOptions, defaultIo, isCi, KlpError } from '@klp-split/core';
import { COMMANDS } from '../../commands/registry.js';
import type { ConvertCommandOptions } from '../../commands/convert-options.js';
import { workspaceDir } from '../workspace-dir.js';
import { generator } from '../run-generator.js';

/**
 * `klp-split convert` as a generator: the command's one function with its
 * options (schema.json is made from their one definition), run from the
 * workspace root. It writes through klp-split's write layer, as the command
 * line does (locked, all or nothing, edited files refused without --force),
 * not through Nx's Tree; Nx's --dry-run prints the diff and writes nothing.
 */
export default generator(async function convertGenerator(tree: Tree, options: ConvertCommandOptions): Promise<void> {
  const directory = workspaceDir(tree, options.directory);
  if (!tree.exists(directory) || tree.isFile(directory)) throw new KlpError(`convert: ${directory} is not a directory`, { code: 'no-such-directory' });
  // The converter reads its sources from disk, so it must not follow another
  // generator that changed them in this Tree: it would convert stale text.
  const pending = tree.listChanges().filter((c) => c.path === directory || c.path.startsWith(`${directory}/`));
  if (pending.length) throw new KlpError(`convert: ${pending[0]!.path} has unsaved changes in this run; run convert on its own`, { code: 'convert-pending-changes' });
  const dryRun = options.dryRun === true || process.env.NX_DRY_RUN === 'true';
  const checked = checkOptions(COMMANDS.convert.spec, { ...options, directory, dryRun });
  const run = await COMMANDS.convert.load();
  const r = await run(checked, { io: defaultIo(isCi()), base: tree.root });
  // Each livepatch stands alone: the ones that split are written, the errors of the others are printed above.
  if (r.exitCode !== 0) throw new KlpError(`convert ${directory}: some livepatches were not converted (errors above)`, { code: 'convert-findings', exit: 1 });
});
