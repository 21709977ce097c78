#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// A closed pipe (`klp-split ... | head`) ends the command quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
process.exitCode = await main(process.argv.slice(2));
