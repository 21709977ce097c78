import { isAbsolute, join, relative } from 'node:path';
import { joinPathFragments, logger, type GeneratorCallback, type Tree } from '@nx/devkit';
import { withWriteTransaction, formatDiagnostic, hasErrors } from '@klp-split/core';
import { conversionFor } from '../../cli/convert-command.js';
import { unifiedDiff } from '../../convert/unified-diff.js';
import { workspaceDir } from '../workspace-dir.js';

/** Options of @klp-split/nx:convert (documented in schema.json). */
interface ConvertGeneratorOptions {
  directory: string;
  dryRun?: boolean;
  kdir?: string;
  allIncludes?: boolean;
  targets?: string[];
  kallsyms?: string;
}

/**
 * `klp-split convert` as a generator: the same plan (conversionFor, so the
 * same kernel headers decide the #includes and the files are byte for byte
 * those of the CLI), written through the Tree so that Nx lists, previews
 * and flushes the changes.
 */
export default async function convertGenerator(tree: Tree, options: ConvertGeneratorOptions): Promise<GeneratorCallback | void> {
  const dir = workspaceDir(tree, options.directory);
  if (!tree.exists(dir) || tree.isFile(dir)) throw new Error(`convert: ${dir} is not a directory`);
  // The converter reads its sources from disk, so it must not follow another
  // generator that changed them in this Tree: it would convert stale text.
  const pending = tree.listChanges().filter((c) => c.path === dir || c.path.startsWith(`${dir}/`));
  if (pending.length) throw new Error(`convert: ${pending[0]!.path} has unsaved changes in this run; run convert on its own`);

  const preview = options.dryRun === true || process.env.NX_DRY_RUN === 'true';
  const abs = join(tree.root, dir);
  // A conversion interrupted on disk is completed first (locked), so the plan reads a whole directory.
  const inRoot = (p: string): string => (isAbsolute(p) ? p : join(tree.root, p));
  const conversion = () => conversionFor(abs, options.kdir, options.allIncludes ?? false, (options.targets ?? []).map(inRoot), options.kallsyms && inRoot(options.kallsyms));
  const plan = preview ? conversion() : withWriteTransaction(abs, conversion, { create: false });
  const print = { error: logger.error, warning: logger.warn, note: logger.info };
  for (const d of plan.diagnostics) {
    if (d.code === 'not-livepatch') continue;
    // Diagnostics name files in the directory (or the directory itself); Nx users read workspace paths.
    const file = isAbsolute(d.file) ? relative(tree.root, d.file) : joinPathFragments(dir, d.file);
    print[d.severity](formatDiagnostic({ ...d, file }));
  }

  // Nx's own --dry-run removes the flag from the options and only sets
  // NX_DRY_RUN (preview above); either way the user asked to see what would change.
  const diffs: string[] = [];
  for (const [name, bytes] of plan.files) {
    const path = joinPathFragments(dir, name);
    // Workspace-relative names, so the diff applies with `git apply` at the root; latin1 keeps every byte.
    if (preview) diffs.push(unifiedDiff(tree.read(path)?.toString('latin1') ?? undefined, bytes.toString('latin1'), path));
    if (!options.dryRun) tree.write(path, bytes);
  }
  if (diffs.length) logger.log(diffs.join('').trimEnd());
  const converted = plan.sources.filter((s) => s.kind === 'split');
  logger.info(`convert ${dir}: ${converted.length} livepatch${converted.length === 1 ? '' : 'es'} split, ${plan.files.size} file${plan.files.size === 1 ? '' : 's'} ${preview ? 'would change' : 'written'}`);
  for (const s of converted) logger.info(`  ${s.file}: ${s.modules.join(', ')}`);
  if (!hasErrors(plan.diagnostics)) return;
  // As the CLI: each livepatch stands alone, so the ones that split are written and the others
  // are reported above; the generator fails with the summary only. Nx flushes the Tree before it
  // runs the returned callback, so failing there keeps what was converted.
  const notConverted = plan.sources.filter((s) => s.kind === 'invalid').map((s) => s.file);
  const summary = `convert ${dir}: not converted (errors above): ${notConverted.join(', ') || 'see the errors above'}`;
  if (preview) throw new Error(summary);
  return () => {
    throw new Error(summary);
  };
}
