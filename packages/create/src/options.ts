import { KlpError } from '@klp-split/core';

/**
 * The options of `create`: one schema, which the Nx executor's schema.json
 * repeats (a test holds them equal) and against which the command line and
 * the executor both check what they pass.
 */
export const CREATE_OPTIONS_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  version: 2,
  title: 'klp-split create',
  description: 'Make a livepatch from a fix: apply unified diffs to the kernel source, find the changed functions, check them against the kernel binaries, and write a classic livepatch directory.',
  type: 'object',
  properties: {
    patches: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'The fix: unified diffs (git format-patch, diff -up), applied in order.' },
    outputPath: { type: 'string', description: 'Directory the livepatch is written to (created if needed).' },
    name: { type: 'string', description: 'The livepatch module name (default: livepatch_ and the first patch file name).' },
    src: { type: 'string', description: "The kernel source tree the fix applies to (default: Debian's linux-source of the kernel at hand, extracted once into the cache)." },
    kdir: { type: 'string', description: "The kernel headers tree (its .config decides objects, its Module.symvers exports; default: the kernel environment's)." },
    kernel: { type: 'string', description: 'A kernel release added with klp-split kernel add: its headers tree and binaries.' },
    kallsyms: { type: 'string', description: "A /proc/kallsyms dump of the running kernel (default: the one klp-split kernel add took)." },
    vmlinuz: { type: 'string', description: "The kernel image whose code is checked (default: the release's linux-image package)." },
    modulesDir: { type: 'string', description: 'The /lib/modules/<release> directory of the target modules (default: the linux-image package).' },
    split: { type: 'boolean', description: 'Also split the livepatch for the split livepatch kernel, into <outputPath>/split.' },
    force: { type: 'boolean', description: 'Replace generated files edited since, and files klp-split did not write.' },
  },
  required: ['patches', 'outputPath'],
  additionalProperties: false,
} as const;

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

type PropertySchema = { type: string; items?: { type: string }; minItems?: number };

/** Checks options against the schema: every problem named by its option, one usage error (exit 2). */
export function checkCreateOptions(raw: unknown, where = 'create'): CreateOptions {
  const problems: string[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new KlpError(`${where}: options must be an object`, { code: 'usage' });
  const props = CREATE_OPTIONS_SCHEMA.properties as Record<string, PropertySchema>;
  const obj = raw as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (obj[key] === undefined) continue;
    const p = props[key];
    if (!p) {
      problems.push(`unknown option '${key}'`);
      continue;
    }
    const v = obj[key];
    if (p.type === 'array') {
      if (!Array.isArray(v) || v.some((x) => typeof x !== p.items!.type)) problems.push(`'${key}' must be a list of ${p.items!.type}s`);
      else if (p.minItems && v.length < p.minItems) problems.push(`'${key}' needs at least ${p.minItems} item${p.minItems > 1 ? 's' : ''}`);
    } else if (typeof v !== p.type) {
      problems.push(`'${key}' must be a ${p.type}, got ${Array.isArray(v) ? 'a list' : typeof v}`);
    } else if (typeof v === 'string' && (v === '' || v.includes('\0'))) {
      problems.push(`'${key}' must be a non-empty string without NUL`);
    }
  }
  for (const key of CREATE_OPTIONS_SCHEMA.required) if (obj[key] === undefined) problems.push(`'${key}' is required`);
  if (typeof obj.name === 'string' && !/^[A-Za-z_][A-Za-z0-9_-]{0,39}$/.test(obj.name)) problems.push(`'name' must be a module name: letters, digits, '_' and '-', at most 40 characters (room for '__<object>')`);
  if (problems.length) throw new KlpError(`${where}: ${problems.join('; ')}`, { code: 'usage' });
  return obj as unknown as CreateOptions;
}
