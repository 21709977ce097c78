import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../cli/exit-codes.js';
import { adaptHeadersTree, replaceTreeFromStage } from './headers-tree.js';

const R = '6.12.99+deb12-amd64';
let tmp: string;
let root: string;

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'klp-split-headers-tree-'));
  root = join(tmp, 'kernels', R, 'root');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A headers package as dpkg-deb -x leaves it: the flavour tree, its -common tree, Debian's absolute links. */
function unpacked(stageRoot: string): string {
  const kdir = join(stageRoot, 'usr/src', `linux-headers-${R}`);
  const common = join(stageRoot, 'usr/src/linux-headers-6.12.99+deb12-common');
  mkdirSync(kdir, { recursive: true });
  mkdirSync(join(common, 'scripts'), { recursive: true });
  writeFileSync(join(kdir, 'Makefile'), 'include /usr/src/linux-headers-6.12.99+deb12-common/Makefile\n');
  writeFileSync(join(kdir, 'Module.symvers'), '');
  symlinkSync('/usr/src/linux-headers-6.12.99+deb12-common/scripts', join(kdir, 'scripts'));
  symlinkSync('/usr/lib/not-in-the-package', join(kdir, 'elsewhere'));
  symlinkSync('/../../../etc/passwd', join(kdir, 'climbing'));
  return kdir;
}

const stages = () => (existsSync(join(tmp, 'kernels', R)) ? readdirSync(join(tmp, 'kernels', R)).filter((n) => n.includes('.tmp-')) : []);

describe('kernel add: an unpacked headers package put in place like every other output', () => {
  it("points Debian's absolute paths into the tree's place, links to what the package does not ship left alone", () => {
    replaceTreeFromStage(root, (stage) => {
      unpacked(join(stage, 'root'));
      adaptHeadersTree(join(stage, 'root'), root, R);
    });
    const kdir = join(root, 'usr/src', `linux-headers-${R}`);
    expect(readFileSync(join(kdir, 'Makefile'), 'utf8')).toBe(`include ${root}/usr/src/linux-headers-6.12.99+deb12-common/Makefile\n`);
    expect(readlinkSync(join(kdir, 'scripts'))).toBe(join(root, 'usr/src/linux-headers-6.12.99+deb12-common/scripts'));
    expect(readlinkSync(join(kdir, 'elsewhere'))).toBe('/usr/lib/not-in-the-package');
    expect(readlinkSync(join(kdir, 'climbing'))).toBe('/../../../etc/passwd');
    expect(readdirSync(kdir).sort()).toEqual(['Makefile', 'Module.symvers', 'climbing', 'elsewhere', 'scripts']);
    expect(stages()).toEqual([]);
  });

  it('refuses a package whose Makefile is a symbolic link, exit 2, writing nothing through it and leaving no staging directory', () => {
    const victim = join(tmp, 'host-file');
    writeFileSync(victim, 'include /usr/src/something\n');
    let thrown: unknown;
    try {
      replaceTreeFromStage(root, (stage) => {
        const kdir = unpacked(join(stage, 'root'));
        rmSync(join(kdir, 'Makefile'));
        symlinkSync(victim, join(kdir, 'Makefile'));
        adaptHeadersTree(join(stage, 'root'), root, R);
      });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as UsageError).exit).toBe(2);
    expect((thrown as Error).message).toBe(`kernel add: linux-headers-${R}/Makefile of the package is a symbolic link (to ${victim}): kernel add rewrites that file and never writes through a link or into anything else`);
    expect(readFileSync(victim, 'utf8')).toBe('include /usr/src/something\n');
    expect(existsSync(root)).toBe(false);
    expect(stages()).toEqual([]);
  });

  it('keeps the tree in place when a new unpack fails, and removes the staging directory of a run that died', async () => {
    replaceTreeFromStage(root, (stage) => {
      mkdirSync(join(stage, 'root'));
      writeFileSync(join(stage, 'root/first'), 'one');
    });
    // A run killed while unpacking: its pid is gone, its staging directory stays until the next run.
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.once('exit', r));
    mkdirSync(`${root}.tmp-${dead.pid}`);
    expect(() =>
      replaceTreeFromStage(root, (stage) => {
        mkdirSync(join(stage, 'root'));
        throw new UsageError('apt-get download failed');
      }),
    ).toThrow('apt-get download failed');
    expect(readFileSync(join(root, 'first'), 'utf8')).toBe('one');
    expect(stages()).toEqual([]);
    expect(readdirSync(join(tmp, 'kernels', R))).toEqual(['root']);
  });
});
