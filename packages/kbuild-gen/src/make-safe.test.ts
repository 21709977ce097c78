import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { discoverKernelTree } from '@klp-split/kernel-facts';
import { buildModules } from './build.js';
import { kbuildText } from './kbuild-file.js';
import { BuildSetupError, checkKbuildObject, checkMakePath } from './make-safe.js';

const tmp = mkdtempSync(join(tmpdir(), 'klp-split-make-safe-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('what klp-split hands to make', () => {
  it.each(['/tmp/ws/modules/klpd-counter', '/home/josé/ws/out/6.12.117+deb12-amd64', '/r/a_b-c.d~e@f'])('takes the path %j', (p) => {
    expect(() => checkMakePath(p, 'the build directory')).not.toThrow();
  });

  it.each([
    ['/ws/m;touch PWNED;x', "';'"],
    ['/ws/r`id>PWNED`x', "'`'"],
    ["/ws/q'x", `"'"`],
    ['/ws/$(shell touch PWNED)', "'$'"],
    ['/ws/sp ace', '" "'],
    ['/ws/n#x', "'#'"],
    ['/ws/nl\nx', '"\\n"'],
    ['/ws/c,d', "','"],
  ])('refuses %j, naming %s', (p, shown) => {
    expect(() => checkMakePath(p, 'the build directory')).toThrow(BuildSetupError);
    expect(() => checkMakePath(p, 'the build directory')).toThrow(`has ${shown}, which make or the shell commands of kbuild would read as syntax`);
  });

  it('writes no Kbuild line from a file name make would read as syntax', () => {
    expect(() => checkKbuildObject('klpd-counter.o')).not.toThrow();
    for (const o of ['$(shell touch PWNED).o', 'a b.o', 'x;y.o', '../up.o', 'a#b.o']) expect(() => kbuildText([{ object: o }], 'klp-split build'), o).toThrow(/rename the file/);
  });

  it('refuses to build a module directory whose path would run a command inside kbuild, before make starts', async () => {
    const dir = join(tmp, 'r`touch PWNED`x');
    mkdirSync(dir);
    writeFileSync(join(dir, 'm.c'), '#include <linux/module.h>\nMODULE_LICENSE("GPL");\n');
    await expect(buildModules(dir, ['m.c'], discoverKernelTree({ install: false }))).rejects.toThrow(/has '`'/);
    expect(existsSync(join(dir, 'Kbuild'))).toBe(false);
    expect(existsSync(join(tmp, 'PWNED')) || existsSync(join(dir, 'PWNED')) || existsSync('PWNED')).toBe(false);
  });
});
