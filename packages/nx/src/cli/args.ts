import { parseArgs, type ParseArgsConfig } from 'node:util';
import { checkOptions, type CommandSpec, flagOf, type OptionSpec, type OptionsOf } from '@klp-split/core';
import { UsageError } from './exit-codes.js';

type Options = NonNullable<ParseArgsConfig['options']>;

interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Parses one command's arguments; unknown options are usage errors, not exceptions. */
export function parseCommandArgs(command: string, argv: string[], options: Options): Parsed {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    return { values: values as Parsed['values'], positionals };
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message.replace(/\. To specify.*$/s, '')}`);
  }
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function list(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function flag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

/** parseArgs' configuration of a command's flags, from its one definition. */
function parseArgsOptions(spec: CommandSpec): Options {
  const out: Options = {};
  for (const [name, o] of Object.entries(spec.options)) {
    if (o.operand) continue;
    const repeatable = o.type === 'list' || o.type === 'map';
    out[flagOf(name, o).slice(2)] = { type: o.type === 'boolean' ? 'boolean' : 'string', ...(repeatable ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) };
  }
  return out;
}

/** A flag's value as the option's type: integers parsed, NAME=VALUE pairs into a map, --no-<flag> as false. */
function flagValue(command: string, name: string, o: OptionSpec, v: string | boolean | string[]): unknown {
  const flag = flagOf(name, o);
  if (o.type === 'boolean') return o.default === true ? !v : v;
  if (o.type === 'integer') {
    const n = Number(v);
    if (!/^-?\d+$/.test(String(v)) || (o.minimum !== undefined && n < o.minimum)) throw new UsageError(`${command}: ${flag} takes ${o.minimum === 1 ? 'a positive integer' : 'an integer'}`);
    return n;
  }
  if (o.type === 'map') {
    const map: Record<string, string> = {};
    for (const kv of v as string[]) {
      const m = /^([^=]+)=(.*)$/s.exec(kv);
      if (!m) throw new UsageError(`${command}: ${flag} takes NAME=VALUE, not '${kv}'`);
      map[m[1]!] = m[2]!;
    }
    return map;
  }
  return v;
}

/**
 * A command's arguments as the options its function takes, by its one
 * definition (the same options, names and defaults as the Nx executor's);
 * 'help' for --help.
 */
export function parseCommandLine<S extends CommandSpec>(spec: S, argv: string[]): OptionsOf<S> | 'help' {
  const parsed = parseCommandArgs(spec.name, argv, parseArgsOptions(spec));
  if (flag(parsed, 'help')) return 'help';
  const raw: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    if (o.operand) continue;
    const v = parsed.values[flagOf(name, o).slice(2)];
    if (v !== undefined) raw[name] = flagValue(spec.name, name, o, v);
  }
  const operand = Object.entries(spec.options).find(([, o]) => o.operand);
  if (operand) {
    const [name, o] = operand;
    if (o.type === 'list') {
      if (parsed.positionals.length) raw[name] = parsed.positionals;
    } else if (parsed.positionals.length !== 1) {
      throw new UsageError(`${spec.name}: give exactly one ${o.value ?? name}`);
    } else raw[name] = parsed.positionals[0];
  } else if (parsed.positionals.length) {
    throw new UsageError(`${spec.name}: unexpected argument '${parsed.positionals[0]}'`);
  }
  return checkOptions(spec, raw);
}
