#!/usr/bin/env node
import { KlpError } from '@klp-split/core';
import { cacheServerMain } from '../dist/cache-server/main.js';

try {
  process.exitCode = await cacheServerMain(process.argv.slice(2));
} catch (e) {
  // Bad input or an unusable directory: the message, never a stack trace.
  process.stderr.write(`klp-split-cache-server: ${e instanceof KlpError ? e.format() : e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = e instanceof KlpError ? e.exit : 2;
}
