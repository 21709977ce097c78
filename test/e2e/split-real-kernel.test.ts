import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kbuildModuleName } from '@klp-split/core';
import { builtDir } from '../helpers/built-dir.js';
import { klpSplit, removeDir, tempDir } from '../helpers/env.js';
import { realLsmod, simulateOnSplitKernel, splitKernel, type SplitKernel } from '../helpers/split-kernel.js';
import { SPLIT_REAL, splitRealBuilt, splitRealFixtures, type SplitRealBuilt, type SplitRealFixture } from '../helpers/split-real.js';

/**
 * Issue 21 on the real split kernel: the klp-convert-style livepatches of
 * test/fixtures/split-real, split with their targets' symbols and built
 * against the split kernel's tree (its linux/livepatch.h defines the
 * relocation annotations: kernel/patches/0007), all run in one qemu boot
 * through `klp-split simulate --real-kernel split`: each patch loaded
 * before its targets and after them, a target removed while patched. The
 * simulator and the kernel agree on every line, and the modules print what
 * the fixtures expect (their printk is not simulated: the real kernel's is
 * checked). An annotated livepatch also builds there as a converted
 * directory. (Debian's headers: split-real-fixtures.test.ts.)
 */
const fixtures = splitRealFixtures();
const disable = (p: string): string => `echo 0 > /sys/kernel/livepatch/${p}/enabled`;

function scenario(f: SplitRealFixture): string[] {
  const patch = kbuildModuleName(f.name);
  const targets = f.targets;
  const unload = [...targets].reverse().map((t) => `rmmod ${t}`);
  return [
    `# ${f.name}: the patch before its targets`,
    `modprobe ${patch}`,
    ...targets.map((t) => `modprobe ${t}`),
    '@lsmod',
    disable(patch),
    `rmmod ${patch}`,
    ...unload,
    `# ${f.name}: the targets before the patch, then removed while patched`,
    ...targets.map((t) => `modprobe ${t}`),
    `modprobe ${patch}`,
    '@lsmod',
    ...unload,
    '@lsmod',
    disable(patch),
    `rmmod ${patch}`,
  ];
}

describe('klp-convert-style livepatches, split, on the real split kernel', () => {
  let dir: string;
  let kernel: SplitKernel;
  let out = '';
  let code = -1;
  let built: SplitRealBuilt;
  const targetKo = (t: string) => join(built.targets, `${t}.ko`);

  beforeAll(async () => {
    kernel = await splitKernel();
    dir = tempDir('split-real-kernel');
    // Split with the targets' symbols and built against the split kernel's tree: a shared fixture (helpers/split-real.ts).
    built = await splitRealBuilt(kernel.kdir);
    for (const f of fixtures) {
      const s = built.split(f.name);
      expect(s.code, s.stdout + s.stderr).toBe(0);
      const b = built.build(f.name);
      expect(b.code, `${f.name}: ${b.stdout}${b.stderr}`).toBe(0);
    }
    writeFileSync(join(dir, 'steps.scenario'), ['# test/fixtures/split-real on the split kernel', ...fixtures.flatMap(scenario), ''].join('\n'));
    ({ code, out } = await simulateOnSplitKernel(
      fixtures.map((f) => built.dir(f.name)),
      ['klpc_mod', 'klpd_mod'].map(targetKo),
      join(dir, 'steps.scenario'),
    ));
  }, 90 * 60_000);
  afterAll(() => {
    if (dir) removeDir(dir);
  });

  it('the simulator and the split kernel agree on every line (exit 0)', () => {
    expect(code, out).toBe(0);
    expect(out.split('\n').filter((l) => /^[<>]/.test(l))).toEqual([]);
    expect(out).toMatch(/^agree: \d+ lines \(qemu run [\d.]+ s\)$/m);
    console.info(`split-real on the split kernel: ${/^agree: .*$/m.exec(out)![0]}`);
  });

  it('loads every patch before and after its targets: per-object modules come and go with the targets', () => {
    const lsmod = realLsmod(out);
    expect(lsmod).toHaveLength(fixtures.length * 3);
    fixtures.forEach((f, i) => {
      const patch = kbuildModuleName(f.name);
      const loaded = [patch, ...f.targets.map((t) => `${patch}__${t}`), ...f.targets].sort();
      expect(lsmod[i * 3], f.name).toBe(`lsmod ${loaded.join(' ')}`);
      expect(lsmod[i * 3 + 1], f.name).toBe(`lsmod ${loaded.join(' ')}`);
      expect(lsmod[i * 3 + 2], f.name).toBe(`lsmod ${patch}`);
    });
    expect(out).not.toMatch(/refusing to load|Module load failed|not found in symbol table/);
  });

  it('the modules print what the fixtures expect: the targets\' statics, homonyms by position, sections, keys', () => {
    const printed = out.split('\n').map((l) => l.trim());
    for (const f of fixtures) for (const line of f.prints) expect(printed.some((l) => l.startsWith(line)), `${f.name}: ${line}`).toBe(true);
  });

  it('builds an annotated livepatch converted in place as a directory against the split kernel\'s tree', async () => {
    const conv = join(dir, 'converted');
    mkdirSync(conv);
    cpSync(join(SPLIT_REAL, 'klpc-callbacks/klpc-callbacks.c'), join(conv, 'klpc-callbacks.c'));
    writeFileSync(join(conv, 'Makefile'), 'obj-m += klpc-callbacks.o\n');
    const c = await klpSplit(['convert', conv, '--kdir', kernel.kdir, '--target', targetKo('klpc_mod')]);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    // The converted directory's build: a shared fixture keyed by its files (helpers/built-dir.ts).
    const b = await builtDir('split-real-converted', conv, ['--kdir', kernel.kdir, '--target', targetKo('klpc_mod'), '--json', '-q']);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(JSON.parse(b.stdout).modules.map((m: { module: string }) => m.module).sort()).toEqual(['klpc_callbacks', 'klpc_callbacks__klpc_mod']);
  }, 600_000);
});
