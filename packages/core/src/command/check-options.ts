import { UsageError } from '../errors.js';
import { flagOf, type CommandSpec, type OptionSpec, type OptionsOf } from './spec.js';

function typeProblem(o: OptionSpec, v: unknown): string | undefined {
  switch (o.type) {
    case 'boolean':
      return typeof v === 'boolean' ? undefined : 'takes true or false';
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v)) return 'takes an integer';
      return o.minimum !== undefined && v < o.minimum ? `takes an integer of at least ${o.minimum}` : undefined;
    case 'list':
      return Array.isArray(v) && v.every((x) => typeof x === 'string') ? undefined : 'takes a list of strings';
    case 'map':
      return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string') ? undefined : 'takes NAME=VALUE pairs';
    default:
      if (typeof v !== 'string') return 'takes a string';
      if (o.enum && !o.enum.includes(v)) return `takes ${o.enum.join(', ')}, not '${v}'`;
      return v.includes('\0') ? 'takes a string without NUL' : undefined;
  }
}

/**
 * The options a command's function runs with, from the command line's
 * parse or from Nx: unknown options, wrong types and missing required
 * options are usage errors (exit 2) named as the command line spells them;
 * defaults are filled in as Nx fills them from schema.json.
 */
export function checkOptions<S extends CommandSpec>(spec: S, raw: Record<string, unknown>): OptionsOf<S> {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    const o = spec.options[name];
    if (!o) throw new UsageError(`${spec.name}: unknown option '${name}'`, `known options: ${Object.keys(spec.options).join(', ')}`);
    const problem = typeProblem(o, v);
    if (problem) throw new UsageError(`${spec.name}: ${o.operand ? `the ${o.value ?? name}` : flagOf(name, o)} ${problem}`);
    out[name] = v;
  }
  for (const [name, o] of Object.entries(spec.options)) {
    if (out[name] === undefined && o.default !== undefined) out[name] = o.default;
    if (out[name] === undefined && o.required) throw new UsageError(`${spec.name}: ${o.operand ? `give the ${o.value ?? name}` : `${flagOf(name, o)} ${o.value ?? '<value>'} is required`}`);
  }
  return out as OptionsOf<S>;
}
