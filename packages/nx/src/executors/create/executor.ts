import type { ExecutorContext } from '@nx/devkit';
import { createLivepatch, type CreateOptions } from '@klp-split/create';
import { printCreated } from '../../cli/create-command.js';
import { runExecutor, shownPath, workspacePath, type ExecutorResult } from '../executor-run.js';

/**
 * A livepatch from a fix: the one create function `klp-split create` calls,
 * with the workspace's relative paths made absolute (options as in
 * schema.json, which is @klp-split/create's CREATE_OPTIONS_SCHEMA).
 */
export default async function createExecutor(options: CreateOptions, context: ExecutorContext): Promise<ExecutorResult> {
  return runExecutor('create', async (io) => {
    const path = (p: string | undefined): string | undefined => p && workspacePath(context, p);
    const r = await createLivepatch({
      ...options,
      patches: options.patches.map((p) => workspacePath(context, p)),
      outputPath: workspacePath(context, options.outputPath),
      src: path(options.src),
      kdir: path(options.kdir),
      kallsyms: path(options.kallsyms),
      vmlinuz: path(options.vmlinuz),
      modulesDir: path(options.modulesDir),
    });
    printCreated(io, r, shownPath);
    return r.ok;
  });
}
