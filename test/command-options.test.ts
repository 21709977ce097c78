import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flagOf, type CommandSpec, type OptionSpec } from '@klp-split/core';
import { parseCommandLine } from '../packages/nx/src/cli/args.js';
import { commandHelp } from '../packages/nx/src/cli/command-help.js';
import { nxSchemaText } from '../packages/nx/src/commands/nx-schema.js';
import { type Command, COMMANDS } from '../packages/nx/src/commands/registry.js';
import { ROOT } from './helpers/env.js';

/**
 * Issue 22: one definition of each command's options, from which the command
 * line and the Nx executor or generator are made. A checked-in schema.json
 * that is not what the definition makes (an option on one side only, another
 * type, default or description) fails here; `npm run gen:schemas` rewrites them.
 */
const PKG = join(ROOT, 'packages/nx');
const registered = {
  executor: JSON.parse(readFileSync(join(PKG, 'executors.json'), 'utf8')).executors as Record<string, { schema: string }>,
  generator: JSON.parse(readFileSync(join(PKG, 'generators.json'), 'utf8')).generators as Record<string, { schema: string }>,
};
// Each command's spec has its own literal type; these tests read every spec through the general one.
const commands = Object.values(COMMANDS) as unknown as Command[];

/** A value of each option's type that is not its default. */
function sample(name: string, o: OptionSpec): unknown {
  switch (o.type) {
    case 'boolean':
      return o.default !== true;
    case 'integer':
      return (o.minimum ?? 0) + 3;
    case 'list':
      return [`${name}-1`, `${name}-2`];
    case 'map':
      return { CONFIG_A: 'm', B_2: 'x=y' };
    default:
      return o.enum ? o.enum.find((e) => e !== o.default) : `${name}-value`;
  }
}

/** The command line that says `options`: operands, then each flag as --help spells it. */
function argvOf(spec: CommandSpec, options: Record<string, unknown>): string[] {
  const argv: string[] = [];
  for (const [name, o] of Object.entries(spec.options)) {
    const v = options[name];
    if (v === undefined) continue;
    if (o.operand) argv.unshift(...(Array.isArray(v) ? v : [v as string]));
    else if (o.type === 'boolean') argv.push(...(v !== o.default ? [flagOf(name, o)] : []));
    else if (o.type === 'list') argv.push(...(v as string[]).flatMap((x) => [flagOf(name, o), x]));
    else if (o.type === 'map') argv.push(...Object.entries(v as Record<string, string>).flatMap(([k, x]) => [flagOf(name, o), `${k}=${x}`]));
    else argv.push(flagOf(name, o), String(v));
  }
  return argv;
}

describe.each(commands.map((c) => [c.spec.name, c] as const))('%s', (name, command) => {
  it(`its Nx ${command.nx}'s schema.json is the one its options' definition makes (npm run gen:schemas)`, () => {
    const entry = registered[command.nx][name];
    expect(entry, `${command.nx}s.json has no '${name}'`).toBeDefined();
    expect(readFileSync(join(PKG, entry!.schema), 'utf8')).toBe(nxSchemaText(command));
  });

  it('the command line takes every option Nx takes, with the same name, type and value', () => {
    const options = Object.fromEntries(Object.entries(command.spec.options).map(([k, o]) => [k, sample(k, o)]));
    expect(parseCommandLine(command.spec, argvOf(command.spec, options))).toEqual(options);
  });

  it('given nothing but the required options, the command line fills in the defaults Nx fills in from schema.json', () => {
    const schema = JSON.parse(nxSchemaText(command)) as { properties: Record<string, { default?: unknown }>; required: string[] };
    const required = Object.fromEntries(schema.required.map((k) => [k, sample(k, command.spec.options[k]!)]));
    const defaults = Object.fromEntries(Object.entries(schema.properties).flatMap(([k, p]) => (p.default === undefined ? [] : [[k, p.default]])));
    expect(parseCommandLine(command.spec, argvOf(command.spec, { ...defaults, ...required }))).toEqual({ ...defaults, ...required });
  });

  it('--help lists every flag with its description', () => {
    const help = commandHelp(command.spec);
    for (const [k, o] of Object.entries(command.spec.options)) {
      if (o.operand) continue;
      expect(help).toContain(`  ${flagOf(k, o)}`);
      expect(help.replace(/\s+/g, ' ')).toContain(o.description.split(' ').slice(0, 4).join(' '));
    }
  });
});

describe('the executors and generators', () => {
  it('every executor is a command with one definition of its options (a command without one is a command line only)', () => {
    const executorCommands = commands.filter((c) => c.nx === 'executor').map((c) => c.spec.name);
    expect(Object.keys(registered.executor).sort()).toEqual(executorCommands.sort());
  });

  it('the command line refuses an unknown option and a missing operand with exit-2 usage errors', () => {
    expect(() => parseCommandLine(COMMANDS.verify.spec, ['dir', '--explore'])).toThrow(/verify: Unknown option '--explore'/);
    expect(() => parseCommandLine(COMMANDS.split.spec, ['--out', 'o'])).toThrow(/split: give the livepatch \.c file/);
    expect(() => parseCommandLine(COMMANDS.build.spec, ['a', 'b'])).toThrow(/build: give exactly one directory/);
    expect(() => parseCommandLine(COMMANDS.build.spec, ['a', '--config', 'X'])).toThrow(/--config takes NAME=VALUE, not 'X'/);
    expect(() => parseCommandLine(COMMANDS.build.spec, ['a', '--jobs', '0'])).toThrow(/--jobs takes a positive integer/);
    expect(() => parseCommandLine(COMMANDS.verify.spec, ['a', '--format', 'xml'])).toThrow(/--format takes text, json, sarif, junit, not 'xml'/);
  });
});
