import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readElf } from '@klp-split/kernel-facts';
import { corpusModules, corpusSplits } from '../helpers/corpus.js';
import { klpSplit, removeDir, tempDir } from '../helpers/env.js';
import { recordForgedModule } from '../helpers/forged-module.js';
import { klpSplitInProcess } from '../helpers/in-process.js';

/**
 * Issue 11, the verify/simulate side of the trust boundary: every reader of
 * outside data (manifest, build record, .ko, scenario, Module.symvers) on a
 * real split of livepatch-shadow-fix1 built with kbuild, then copied and
 * damaged one way per test. verify and simulate run in-process
 * (helpers/in-process.ts) but where a regression would block the process
 * (a FIFO, /dev/zero) or the test sets the environment: those spawn klp-split.
 */

const PATCH = 'livepatch-shadow-fix1';
const PART_KO = `${PATCH}__livepatch-shadow-mod.ko`;
const RECORD = '.klp-split/build.json';
const SHDR = 64;

let root: string;
let built: string;
let target: string;
let scenario: string;
let copies = 0;

/** A fresh copy of the built split (the build record's paths are relative, so copies work). */
function copyOfBuilt(): string {
  const dir = join(root, `copy-${copies++}`);
  cpSync(built, dir, { recursive: true });
  return dir;
}

function editJson(file: string, edit: (data: Record<string, unknown>) => unknown): void {
  const data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, `${JSON.stringify(edit(data) ?? data, null, 2)}\n`);
}

/** Rewrites one section header field of a .ko in place: sh_size (+32) or sh_info (+44). */
function patchSection(ko: string, name: string, edit: (buf: Buffer, at: number, index: number) => void): void {
  const buf = readFileSync(ko);
  const elf = readElf(buf, ko);
  const s = elf.sections.find((x) => x.name === name);
  if (!s) throw new Error(`${ko} has no section ${name}`);
  edit(buf, elf.header.shoff + s.index * SHDR, s.index);
  writeFileSync(ko, buf);
  recordForgedModule(ko);
}

function verify(dir: string, extra: string[] = []) {
  return klpSplitInProcess(['verify', dir, '--target', target, '--no-explore', ...extra]);
}

/** verify as a process of its own: for input that would block a reader that opens it (a FIFO). */
function verifySpawned(dir: string, extra: string[] = []) {
  return klpSplit(['verify', dir, '--target', target, '--no-explore', ...extra]);
}

/** An input error: exit 2, one `file: error: ... [code]` line, no stack trace. */
function expectInputError(r: { code: number; stdout: string; stderr: string }, file: string, code: string): void {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(2);
  expect(r.stderr).toContain(`${file}`);
  expect(r.stderr).toMatch(new RegExp(`error: .*\\[${code}\\]`));
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toContain('internal error');
}

beforeAll(async () => {
  root = tempDir('readers');
  const [t, splits] = await Promise.all([corpusModules(), corpusSplits()]);
  target = t.ko('livepatch-shadow-mod.c');
  // The shared fixture, read only here: every test that changes something works on a copy.
  built = splits.dir(PATCH);
  const build = splits.build(PATCH);
  if (build.code !== 0) throw new Error(`${build.stdout}\n${build.stderr}`);
  scenario = join(root, 'load.scenario');
  writeFileSync(scenario, 'modprobe livepatch_shadow_mod\nmodprobe livepatch_shadow_fix1\n');
});

afterAll(() => {
  removeDir(root);
});

describe('the built split as it is', () => {
  it('verifies OK and simulates, so each damaged copy below differs from it by one thing', async () => {
    const r = await verify(built);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/verify: livepatch_shadow_fix1: OK$/);
    const s = await klpSplitInProcess(['simulate', built, '--target', target, '--scenario', scenario]);
    expect(s.code, s.stdout + s.stderr).toBe(0);
    expect(s.stdout).toContain('[request_module] livepatch_shadow_fix1__livepatch_shadow_mod');
  });
});

describe('paths in the build record', () => {
  it('refuses a symvers other than the kernel tree\'s own and never prints the file it names', async () => {
    const dir = copyOfBuilt();
    editJson(join(dir, RECORD), (r) => ({ ...r, symvers: '/etc/passwd' }));
    const r = await verify(dir);
    expectInputError(r, join(dir, RECORD), 'build-record-invalid');
    expect(r.stderr).toContain("$.symvers: must be the kernel tree's own Module.symvers");
    const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').filter(Boolean);
    for (const line of passwd) expect(r.stdout + r.stderr).not.toContain(line);
    expect(r.stdout + r.stderr).not.toContain('root:');
  });

  it('refuses a kdir that is not a kernel tree (so symvers cannot be steered through it)', async () => {
    const dir = copyOfBuilt();
    editJson(join(dir, RECORD), (r) => ({ ...r, kdir: '/etc', symvers: '/etc/Module.symvers' }));
    expectInputError(await verify(dir), join(dir, RECORD), 'build-record-kdir');
  });

  it('refuses a module path that leaves the build directory, before opening it', async () => {
    const dir = copyOfBuilt();
    editJson(join(dir, RECORD), (r) => {
      (r.modules as { ko: string }[])[1]!.ko = '../../../etc/passwd';
    });
    const r = await verify(dir);
    expectInputError(r, join(dir, RECORD), 'build-record-invalid');
    expect(r.stderr).toContain("$.modules[1].ko: '../../../etc/passwd' leaves the directory");
  });

  it('refuses a module path whose symbolic link leads outside', async () => {
    const dir = copyOfBuilt();
    symlinkSync('/etc/passwd', join(dir, 'escape.ko'));
    editJson(join(dir, RECORD), (r) => {
      (r.modules as { ko: string }[])[1]!.ko = 'escape.ko';
    });
    const r = await verify(dir);
    expectInputError(r, join(dir, RECORD), 'path-escape');
    expect(r.stdout + r.stderr).not.toContain('root:');
  });

  it('refuses an absolute layout probe path', async () => {
    const dir = copyOfBuilt();
    editJson(join(dir, RECORD), (r) => ({ ...r, layoutModule: join(dir, '.klp-split/klp_split_layout.ko') }));
    const r = await verify(dir);
    expectInputError(r, join(dir, RECORD), 'build-record-invalid');
    expect(r.stderr).toContain('$.layoutModule:');
  });
});

describe('malformed manifests and build records', () => {
  for (const command of ['verify', 'simulate'] as const) {
    const run = (dir: string) =>
      command === 'verify' ? verify(dir) : klpSplitInProcess(['simulate', dir, '--target', target, '--scenario', scenario]);

    it(`${command}: a manifest that is not JSON is an input error at its line`, async () => {
      const dir = copyOfBuilt();
      writeFileSync(join(dir, 'klp-split.json'), '{\n  "patch": "x",\n  parts: []\n}\n');
      const r = await run(dir);
      expectInputError(r, `${join(dir, 'klp-split.json')}:3:`, 'json-syntax');
    });

    it(`${command}: a manifest of the wrong shape names every problem by its JSON path`, async () => {
      const dir = copyOfBuilt();
      editJson(join(dir, 'klp-split.json'), (m) => {
        m.patch = 3;
        (m.parts as Record<string, unknown>[])[1]!.module = ['x'];
        (m.parts as Record<string, unknown>[])[1]!.file = '/etc/passwd';
      });
      const r = await run(dir);
      expectInputError(r, join(dir, 'klp-split.json'), 'manifest-invalid');
      expect(r.stderr).toContain('$.patch: expected a string, got a number');
      expect(r.stderr).toContain('$.parts[1].module: expected a string, got an array');
      expect(r.stderr).toContain("$.parts[1].file: '/etc/passwd' is absolute");
    });

    it(`${command}: a build record that is not an object is an input error`, async () => {
      const dir = copyOfBuilt();
      writeFileSync(join(dir, RECORD), '[1, 2]\n');
      const r = await run(dir);
      expectInputError(r, join(dir, RECORD), 'build-record-invalid');
      expect(r.stderr).toContain('$: expected an object, got an array');
    });

    it(`${command}: a build record that is truncated JSON is an input error`, async () => {
      const dir = copyOfBuilt();
      writeFileSync(join(dir, RECORD), readFileSync(join(built, RECORD), 'utf8').slice(0, 40));
      expectInputError(await run(dir), join(dir, RECORD), 'json-syntax');
    });
  }

  it('refuses 10,000 duplicate parts at once instead of verifying each', async () => {
    const dir = copyOfBuilt();
    editJson(join(dir, 'klp-split.json'), (m) => {
      const part = (m.parts as unknown[])[1];
      m.parts = [(m.parts as unknown[])[0], ...Array.from({ length: 10_000 }, () => part)];
    });
    const r = await verify(dir);
    expectInputError(r, join(dir, 'klp-split.json'), 'manifest-invalid');
    expect(r.stderr).toContain('$.parts: has 10001 entries; at most 1024 are accepted');
  });

  it('refuses duplicate modules within the bound, naming both entries', async () => {
    const dir = copyOfBuilt();
    editJson(join(dir, 'klp-split.json'), (m) => {
      const parts = m.parts as Record<string, unknown>[];
      m.parts = [...parts, { ...parts[1], file: 'other.c', object: 'other' }];
    });
    const r = await verify(dir);
    expectInputError(r, join(dir, 'klp-split.json'), 'manifest-invalid');
    expect(r.stderr).toContain(`$.parts[2].module: duplicate module "livepatch_shadow_fix1__livepatch_shadow_mod" (also $.parts[1])`);
  });
});

describe('special files and directories instead of modules and scenarios', () => {
  let fifo: string;
  let adir: string;
  beforeAll(async () => {
    fifo = join(root, 'fifo.ko');
    await execa('mkfifo', [fifo]);
    adir = join(root, 'a-directory.ko');
    mkdirSync(adir);
  });

  for (const [what, path, code] of [
    ['a directory', () => adir, 'input-not-file'],
    ['a FIFO', () => fifo, 'input-not-file'],
    ['/dev/zero', () => '/dev/zero', 'input-not-file'],
  ] as const) {
    it(`verify --target ${what}: exit 2 at once`, async () => {
      const r = await klpSplit(['verify', built, '--target', path(), '--no-explore']);
      expectInputError(r, path(), code);
    });

    it(`simulate --scenario ${what}: exit 2 at once`, async () => {
      const r = await klpSplit(['simulate', built, '--target', target, '--scenario', path()]);
      expectInputError(r, path(), code);
    });
  }

  it('verify --kallsyms a FIFO: exit 2 at once', async () => {
    const r = await verifySpawned(built, ['--kallsyms', fifo]);
    expectInputError(r, fifo, 'input-not-file');
  });

  it('a built module replaced by a FIFO: exit 2, no hang', async () => {
    const dir = copyOfBuilt();
    const ko = join(dir, PART_KO);
    removeDir(ko);
    await execa('mkfifo', [ko]);
    expectInputError(await verifySpawned(dir), ko, 'input-not-file');
  });
});

describe('scenarios and symbol tables that do not parse', () => {
  it('a scenario with an unknown command is an input error (exit 2) at its line, not a finding', async () => {
    const bad = join(root, 'bad.scenario');
    writeFileSync(bad, 'modprobe livepatch_shadow_mod\nfrobnicate now\n');
    const r = await klpSplitInProcess(['simulate', built, '--target', target, '--scenario', bad]);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${bad}:2:1: error: .*\\[scenario-syntax\\]`));
  });

  it('a kallsyms dump that is not one: exit 2 at the line, without quoting other files', async () => {
    const bad = join(root, 'bad-kallsyms.txt');
    writeFileSync(bad, 'ffffffff81000000 T _text\nnot a kallsyms line\n');
    const r = await verify(built, ['--kallsyms', bad]);
    expectInputError(r, `${bad}:2:1`, 'kallsyms-invalid');
  });
});

describe('corrupt modules the 6.1 loader would not load as they are', () => {
  it('a .bss of 2^52 bytes: the load fails (-ENOMEM), verify reports it', async () => {
    const dir = copyOfBuilt();
    const ko = join(dir, PART_KO);
    patchSection(ko, '.bss', (buf, at) => buf.writeBigUInt64LE(1n << 52n, at + 32));
    const r = await verify(dir, ['--format', 'json']);
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(false);
    const d = report.diagnostics.find((x: { code: string }) => x.code === 'module-unloadable');
    expect(d, r.stdout).toBeDefined();
    expect(d.file).toBe(PART_KO);
    expect(d.message).toMatch(/^SHF_ALLOC section \d+ '\.bss' has sh_size 4503599627370496; .*-ENOMEM, Cannot allocate memory\)$/);
  });

  it('allocated sections larger than MODULES_LEN in total: verify reports -ENOMEM', async () => {
    const dir = copyOfBuilt();
    const ko = join(dir, PART_KO);
    patchSection(ko, '.bss', (buf, at) => buf.writeBigUInt64LE(1100n << 20n, at + 32));
    const r = await verify(dir, ['--format', 'json']);
    expect(r.code, r.stderr).toBe(1);
    const d = JSON.parse(r.stdout).diagnostics.find((x: { code: string }) => x.code === 'module-unloadable');
    expect(d?.message).toMatch(/need \d+ bytes; x86-64 module_alloc\(\) refuses more than MODULES_LEN \(1008 MiB\)/);
  });

  it('.rela.text whose sh_info names itself: verify reports the unrelocated .text', async () => {
    const dir = copyOfBuilt();
    const ko = join(dir, PART_KO);
    patchSection(ko, '.rela.text', (buf, at, index) => buf.writeUInt32LE(index, at + 44));
    const r = await verify(dir, ['--format', 'json']);
    expect(r.code, r.stderr).toBe(1);
    const d = JSON.parse(r.stdout).diagnostics.find((x: { code: string }) => x.code === 'module-unloadable');
    expect(d?.message).toMatch(/^relocation section \d+ '\.rela\.text' applies to section \d+ '\.rela\.text', which is itself/);
  });

  it('.rela.text whose sh_info names a debug section: the kernel would skip it, verify reports it', async () => {
    const dir = copyOfBuilt();
    const ko = join(dir, PART_KO);
    const debug = readElf(readFileSync(ko), ko).sections.find((s) => s.name === '.debug_info')!;
    patchSection(ko, '.rela.text', (buf, at) => buf.writeUInt32LE(debug.index, at + 44));
    const r = await verify(dir, ['--format', 'json']);
    expect(r.code, r.stderr).toBe(1);
    const d = JSON.parse(r.stdout).diagnostics.find((x: { code: string }) => x.code === 'module-unloadable');
    expect(d?.message).toContain("applies to section");
    expect(d?.message).toContain("leave '.text' unrelocated");
  });
});

describe('the cache directory', () => {
  const kdir = () => JSON.parse(readFileSync(join(built, RECORD), 'utf8')).kdir as string;
  const noCacheVars = { KLP_SPLIT_CACHE: '', XDG_CACHE_HOME: '' };

  it('build with no HOME: exit 2 naming the variable', async () => {
    const dir = copyOfBuilt();
    const r = await klpSplit(['build', dir], { env: { ...noCacheVars, HOME: '', KDIR: kdir() } });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error: HOME is not set, so there is no cache directory \[cache-dir-missing\]/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('build with a HOME where no cache can be made: exit 2 naming the directory', async () => {
    const dir = copyOfBuilt();
    const file = join(root, 'not-a-home');
    writeFileSync(file, '');
    const r = await klpSplit(['build', dir], { env: { ...noCacheVars, HOME: file, KDIR: kdir() } });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain(`${join(file, '.cache/klp-split')}: error: cache directory ${join(file, '.cache/klp-split')} cannot be created (ENOTDIR) [cache-dir-unwritable]`);
  });
});
