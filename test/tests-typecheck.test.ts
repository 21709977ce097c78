import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/env.js';
import { sharedFixture } from './helpers/fixtures.js';

/**
 * The packages' builds leave their tests out (tsconfig.json of each package),
 * and vitest strips types without checking them: a call with an argument too
 * many (a timeout vitest never reads) or an option the command's type does not
 * have would pass unnoticed. tsconfig.tests.json checks every test and test
 * helper against the packages' declarations, as strictly as the packages.
 * The check's outcome is kept by everything it reads (the tests, the
 * packages' sources and builds, the configurations, the lock file), so a run
 * with nothing changed reads it.
 */
const INPUTS = ['test', 'bench', 'vitest.config.ts', 'tsconfig.tests.json', 'tsconfig.base.json', ...readdirSync(join(ROOT, 'packages')).map((p) => `packages/${p}/src`)];

describe('the tests type-check', () => {
  it('tsc -p tsconfig.tests.json reports nothing', async () => {
    const dir = await sharedFixture('tests-typecheck', { files: INPUTS, kbuild: false }, async (out) => {
      const r = await execa(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.tests.json')], { cwd: ROOT, reject: false, all: true });
      writeFileSync(join(out, 'outcome.json'), JSON.stringify({ code: r.exitCode, output: r.all }));
    });
    const { code, output } = JSON.parse(readFileSync(join(dir, 'outcome.json'), 'utf8')) as { code: number; output: string };
    expect(output, 'type errors in the tests').toBe('');
    expect(code).toBe(0);
  }, 180_000);
});
