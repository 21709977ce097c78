import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/env.js';

/**
 * The packages' builds leave their tests out (tsconfig.json of each package),
 * and vitest strips types without checking them: a call with an argument too
 * many (a timeout vitest never reads) or an option the command's type does not
 * have would pass unnoticed. tsconfig.tests.json checks every test and test
 * helper against the packages' declarations, as strictly as the packages.
 */
describe('the tests type-check', () => {
  it('tsc -p tsconfig.tests.json reports nothing', async () => {
    const r = await execa(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.tests.json')], { cwd: ROOT, reject: false, all: true });
    expect(r.all, 'type errors in the tests').toBe('');
    expect(r.exitCode).toBe(0);
  }, 180_000);
});
