import type { CommandSpec, OptionSpec } from '@klp-split/core';
import type { Command } from './registry.js';

type Json = Record<string, unknown>;

function property(o: OptionSpec, generator: boolean): Json {
  const type = { string: { type: 'string' }, boolean: { type: 'boolean' }, integer: { type: 'integer' }, list: { type: 'array', items: { type: 'string' } }, map: { type: 'object', additionalProperties: { type: 'string' } } }[o.type];
  return {
    ...type,
    ...(o.enum ? { enum: [...o.enum] } : {}),
    ...(o.minimum !== undefined ? { minimum: o.minimum } : {}),
    ...(o.default !== undefined ? { default: o.default } : {}),
    description: o.path ? `${o.description} Relative paths are from the workspace root.` : o.description,
    // nx g <generator> <value>: the command line's operand is the generator's first argument.
    ...(generator && o.operand ? { $default: { $source: 'argv', index: 0 } } : {}),
    ...(generator && o.prompt ? { 'x-prompt': o.prompt } : {}),
  };
}

/** The schema.json of a command's Nx executor or generator, made from the command's one definition of its options. */
export function nxSchema(command: Command<CommandSpec>): Json {
  const { spec } = command;
  const generator = command.nx === 'generator';
  const name = spec.name[0]!.toUpperCase() + spec.name.slice(1);
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    ...(generator ? { $id: `KlpSplit${name}` } : { version: 2 }),
    title: `klp-split ${spec.name}`,
    description: spec.summary,
    type: 'object',
    properties: Object.fromEntries(Object.entries(spec.options).map(([k, o]) => [k, property(o, generator)])),
    required: Object.entries(spec.options).filter(([, o]) => o.required).map(([k]) => k),
    additionalProperties: false,
  };
}

/** The file's text: what `npm run gen:schemas` writes and test/command-options.test.ts compares. */
export function nxSchemaText(command: Command<CommandSpec>): string {
  return `${JSON.stringify(nxSchema(command), null, 2)}\n`;
}
