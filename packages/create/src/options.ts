import { KlpError } from '@klp-split/core';

/** The options of the one create function (the command line's and the executor's: command/create-options.ts). */
export interface CreateOptions {
  patches: string[];
  outputPath: string;
  name?: string;
  src?: string;
  kdir?: string;
  kernel?: string;
  kallsyms?: string;
  vmlinuz?: string;
  modulesDir?: string;
  split?: boolean;
  force?: boolean;
}

/** What the command's option checks cannot say: the name must make module names (exit 2). */
export function checkCreateOptions(o: CreateOptions, where = 'create'): CreateOptions {
  if (!o.patches.length) throw new KlpError(`${where}: 'patches' needs at least 1 item`, { code: 'usage' });
  if (o.name !== undefined && !/^[A-Za-z_][A-Za-z0-9_-]{0,39}$/.test(o.name)) {
    throw new KlpError(`${where}: 'name' must be a module name: letters, digits, '_' and '-', at most 40 characters (room for '__<object>')`, { code: 'usage' });
  }
  return o;
}
