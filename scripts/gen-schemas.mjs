#!/usr/bin/env node
// Writes each command's Nx schema.json (executor or generator) from the command's one definition of its
// options (packages/nx/src/commands/registry.ts). Run after `tsc -b`: `npm run gen:schemas`.
// test/command-options.test.ts fails when a checked-in schema differs from what this writes.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS } from '../packages/nx/dist/commands/registry.js';
import { nxSchemaText } from '../packages/nx/dist/commands/nx-schema.js';

const pkg = join(import.meta.dirname, '../packages/nx');
const entries = {
  executor: JSON.parse(readFileSync(join(pkg, 'executors.json'), 'utf8')).executors,
  generator: JSON.parse(readFileSync(join(pkg, 'generators.json'), 'utf8')).generators,
};
for (const command of Object.values(COMMANDS)) {
  const entry = entries[command.nx][command.spec.name];
  if (!entry) throw new Error(`${command.spec.name}: no ${command.nx} of that name in packages/nx/${command.nx}s.json`);
  const file = join(pkg, entry.schema);
  const text = nxSchemaText(command);
  const old = (() => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  })();
  if (old === text) continue;
  writeFileSync(file, text);
  console.log(`wrote ${join('packages/nx', entry.schema)}`);
}
