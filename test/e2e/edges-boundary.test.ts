import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverKernelTree } from '@klp-split/kernel-facts';
import { splitSource } from '@klp-split/splitter';
import { builtDir } from '../helpers/built-dir.js';
import { klpSplit, libLivepatch, removeDir, samples, tempDir } from '../helpers/env.js';
import { copyFixture } from '../helpers/fixtures.js';
import { klpSplitInProcess } from '../helpers/in-process.js';

/**
 * Issue 11, the edges: #include of another livepatch, syntax errors, and
 * arguments and environments that used to crash. The commands run in-process
 * (helpers/in-process.ts) but for those that set the environment (HOME).
 */
let work: string;
beforeAll(() => {
  work = tempDir('edges');
});
afterAll(() => removeDir(work));

/** No stack trace: no "    at fn (file:line)" frames and no internal-error line. */
function expectNoTrace(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at .*:\d+/m);
  expect(stderr).not.toContain('internal error');
}

function listAll(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe("split of a wrapper that #includes another livepatch's .c", () => {
  /** A wrapper in <case>/src including `name`, beside a real livepatch in <case>/lib/lp.c; returns the case directory. */
  function wrapperCase(name: string, include: string): string {
    const dir = join(work, name);
    mkdirSync(join(dir, 'src'), { recursive: true });
    mkdirSync(join(dir, 'lib'), { recursive: true });
    cpSync(libLivepatch('test_klp_state2.c'), join(dir, 'lib/lp.c'));
    writeFileSync(join(dir, 'src/wrapper.c'), `// SPDX-License-Identifier: GPL-2.0\n\n#include "${include}"\n`);
    return dir;
  }

  it.each(['./../lib/lp.c', '../lib/lp.c', '/etc/passwd.c'])('refuses #include "%s" at its line, writes nothing', async (include) => {
    const dir = wrapperCase(`escape-${include.replace(/\W/g, '_')}`, include);
    const before = listAll(dir);
    const r = await klpSplitInProcess(['split', join(dir, 'src/wrapper.c'), '--out', join(dir, 'out')]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`wrapper\\.c:3:11: error: .*'${include.replace(/\./g, '\\.')}'.*\\[path-escape\\]`));
    expectNoTrace(r.stderr);
    // Nothing beside --out (the old bug wrote <dir>/lib/lp.c from out/../lib/lp.c) and no --out at all.
    expect(listAll(dir)).toEqual(before);
    expect(readFileSync(join(dir, 'lib/lp.c'))).toEqual(readFileSync(libLivepatch('test_klp_state2.c')));
  });

  it('refuses an included file that is a link leaving the directory', async () => {
    const dir = wrapperCase('link-escape', 'lp.c');
    symlinkSync('../lib/lp.c', join(dir, 'src/lp.c'));
    const r = await klpSplitInProcess(['split', join(dir, 'src/wrapper.c'), '--out', join(dir, 'out')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/wrapper\.c:3:11: error: .*'lp\.c' leaves .*\[path-escape\]/);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('reports a missing included file at its line', async () => {
    const dir = wrapperCase('missing', 'nothere.c');
    const r = await klpSplitInProcess(['split', join(dir, 'src/wrapper.c'), '--out', join(dir, 'out')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/wrapper\.c:3:11: error: cannot read the included livepatch 'nothere\.c': ENOENT \[include-unreadable\]/);
    expectNoTrace(r.stderr);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('reports an include cycle (a.c -> b.c -> a.c) and a file including itself', async () => {
    const dir = join(work, 'cycle');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.c'), '#include "b.c"\n');
    writeFileSync(join(dir, 'b.c'), '/* b */\n#include "a.c"\n');
    writeFileSync(join(dir, 'self.c'), '#include "self.c"\n');
    const ab = await klpSplitInProcess(['split', join(dir, 'a.c'), '--out', join(dir, 'out')]);
    expect(ab.code).toBe(1);
    expect(ab.stderr).toMatch(/b\.c:2:11: error: 'a\.c' includes this file again \(a\.c -> b\.c -> a\.c\) \[include-cycle\]/);
    expect(ab.stderr).not.toContain('Maximum call stack');
    const self = await klpSplitInProcess(['split', join(dir, 'self.c'), '--out', join(dir, 'out')]);
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/self\.c:1:11: error: .*\(self\.c -> self\.c\) \[include-cycle\]/);
    expectNoTrace(self.stderr);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('still splits the kernel\'s own wrapper (test_klp_state3.c includes test_klp_state2.c) and refuses one in a subdirectory', async () => {
    const dir = join(work, 'state3');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    cpSync(libLivepatch('test_klp_state3.c'), join(dir, 'test_klp_state3.c'));
    cpSync(libLivepatch('test_klp_state2.c'), join(dir, 'test_klp_state2.c'));
    const r = await klpSplitInProcess(['split', join(dir, 'test_klp_state3.c'), '--out', join(dir, 'out'), '--all-includes']);
    expect(r.code, r.stderr).toBe(0);
    expect(listAll(join(dir, 'out'))).toEqual(expect.arrayContaining(['klp-split.json', 'test_klp_state2.c', 'test_klp_state3.c']));

    cpSync(libLivepatch('test_klp_state2.c'), join(dir, 'sub/lp.c'));
    writeFileSync(join(dir, 'w.c'), '#include "sub/lp.c"\n');
    const sub = await klpSplitInProcess(['split', join(dir, 'w.c'), '--out', join(dir, 'out2'), '--all-includes']);
    expect(sub.code).toBe(1);
    expect(sub.stderr).toMatch(/w\.c:1:11: error: .*'sub\/lp\.c' is in a subdirectory.*\[include-not-beside\]/);
    expect(existsSync(join(dir, 'out2'))).toBe(false);
  });
});

describe('syntax errors are diagnostics', () => {
  it("split of x'\\n; is a syntax-error, exit 1, no trace", async () => {
    const file = join(work, 'x.c');
    writeFileSync(file, "x'\n;\n");
    const r = await klpSplitInProcess(['split', file, '--out', join(work, 'x-out')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/x\.c:1:2: error: .*\[syntax-error\]/);
    expect(r.stderr).not.toContain('startIndex');
    expectNoTrace(r.stderr);
  });

  /**
   * A small, seeded copy of the loop that found the crash above (truncations, line windows and byte mutations of the
   * kernel's livepatch samples, in-process): every input ends in a result, never a throw. Before the fix seed 1 threw
   * "reading 'startIndex'" within 400 inputs. The large fuzz suite lives elsewhere; this one guards the class.
   */
  it('never throws on 400 seeded mutations of the samples', () => {
    const files = readdirSync(samples()).filter((f) => f.endsWith('.c')).map((f) => samples(f));
    const texts = files.map((f) => readFileSync(f, 'latin1'));
    let seed = 1;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const TOKENS = ["'", '"', '{', '}', ';', '(', ')', '#', '\\', '/*', '*/', '\n', ',', '=', '[', ']', '#if X\n', '#endif\n', '\0', 'struct ', '.'];
    const kinds = new Map<string, number>();
    const thrown: string[] = [];
    for (let i = 0; i < 400; i++) {
      const k = Math.floor(rnd() * texts.length);
      let s = texts[k]!;
      const mode = rnd();
      if (mode < 0.2) s = s.slice(0, Math.floor(rnd() * s.length));
      else if (mode < 0.5) {
        const lines = s.split('\n');
        const a = Math.floor(rnd() * lines.length);
        s = lines.slice(a, a + 1 + Math.floor(rnd() * 6)).join('\n');
        if (rnd() < 0.5) {
          const p = Math.floor(rnd() * s.length);
          s = s.slice(0, p) + pick(TOKENS) + s.slice(p);
        }
      } else {
        for (let j = 1 + Math.floor(rnd() * 4); j > 0; j--) {
          const p = Math.floor(rnd() * s.length);
          const r = rnd();
          if (r < 0.4) s = s.slice(0, p) + pick(TOKENS) + s.slice(p);
          else if (r < 0.7) s = s.slice(0, p) + s.slice(p + 1 + Math.floor(rnd() * 20));
          else s = s.slice(0, p) + String.fromCharCode(Math.floor(rnd() * 256)) + s.slice(p + 1);
        }
      }
      try {
        const result = splitSource(files[k]!, s);
        kinds.set(result.kind, (kinds.get(result.kind) ?? 0) + 1);
        // A result that failed says why: an invalid source carries an error diagnostic.
        if (result.kind === 'invalid') expect(result.diagnostics.some((d) => d.severity === 'error')).toBe(true);
      } catch (e) {
        thrown.push(`#${i} ${files[k]}: ${(e as Error).message}`);
      }
    }
    expect(thrown).toEqual([]);
    // The loop reaches every outcome, so it exercises more than the parser's error path.
    expect(kinds.get('split')).toBeGreaterThan(10);
    expect(kinds.get('invalid')).toBeGreaterThan(10);
  });
});

describe('arguments that are directories, an unwritable HOME, a full disk', () => {
  let lp: string;
  let adir: string;
  let kdir: string;
  let mnt: string;
  let roHome: string;
  let mounted = false;

  beforeAll(async () => {
    kdir = discoverKernelTree({ install: false }).dir;
    lp = join(work, 'lp');
    adir = join(work, 'a-directory');
    mkdirSync(adir);
    expect((await klpSplitInProcess(['split', samples('livepatch-sample.c'), '--out', lp, '--all-includes'])).code).toBe(0);
    // The build: a shared fixture keyed by the split (helpers/built-dir.ts); the tests work on a copy.
    const b = await builtDir('edges-sample', lp, ['--kdir', kdir]);
    expect(b.code, b.stderr).toBe(0);
    removeDir(lp);
    copyFixture(b.dir, lp);
    // A 64 KiB tmpfs filled to the last block (ENOSPC) and a read-only one (an unwritable HOME, also for root).
    mnt = join(work, 'full');
    roHome = join(work, 'ro-home');
    mkdirSync(mnt);
    mkdirSync(roHome);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { stdio: 'ignore' });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=16k', 'tmpfs', roHome], { stdio: 'ignore' });
      mounted = true;
    } catch {
      mounted = false;
    }
  });

  afterAll(() => {
    if (!mounted) return;
    for (const m of [mnt, roHome]) execFileSync('umount', [m], { stdio: 'ignore' });
  });

  it.each([
    ['build --symbols', () => ['build', lp, '--symbols', adir], 'ADIR: error: build: --symbols file is a directory [input-not-file]'],
    ['simulate --module', () => ['simulate', '--upstream', '--module', adir, '--scenario', samples('Makefile')], 'ADIR: error: simulate: --module is a directory [input-not-file]'],
    ['simulate --scenario', () => ['simulate', lp, '--scenario', adir], 'ADIR: error: simulate: --scenario is a directory [input-not-file]'],
    ['simulate --target', () => ['simulate', lp, '--target', adir, '--explore'], 'ADIR: error: simulate: --target is a directory [input-not-file]'],
  ])('%s naming a directory: exit 2, the argument named', async (_what, args, message) => {
    const r = await klpSplitInProcess(args());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message.replace('ADIR', adir));
    expectNoTrace(r.stderr);
  });

  it('build and convert of a directory whose Makefile is a directory: exit 2, the Makefile named', async () => {
    const dir = join(work, 'makefile-dir');
    mkdirSync(join(dir, 'Makefile'), { recursive: true });
    cpSync(samples('livepatch-callbacks-demo.c'), join(dir, 'livepatch-callbacks-demo.c'));
    const convert = await klpSplitInProcess(['convert', dir]);
    expect(convert.code).toBe(2);
    expect(convert.stderr).toContain(`${join(dir, 'Makefile')}: error: convert: the build file is a directory [input-not-file]`);
    // Nothing converted on the way.
    expect(readdirSync(dir).sort()).toEqual(['Makefile', 'livepatch-callbacks-demo.c']);
    const build = await klpSplitInProcess(['build', dir, '--kdir', kdir]);
    expect(build.code).toBe(2);
    expect(build.stderr).toContain(`${join(dir, 'Makefile')}: error: build: the build file is a directory [input-not-file]`);
  });

  it('an unusable HOME for the cache (HOME=/proc used to hang in mkdir): exit 2 naming the cache directory', async () => {
    const fresh = join(work, 'lp-home');
    cpSync(lp, fresh, { recursive: true });
    const r = await klpSplit(['build', fresh, '--kdir', kdir], { env: { HOME: '/proc', XDG_CACHE_HOME: '', KLP_SPLIT_CACHE: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cache directory /proc/.cache/klp-split cannot be created');
    expect(r.stderr).toContain('[cache-dir-unwritable]');
    expectNoTrace(r.stderr);
  });

  it('a read-only HOME: exit 2 naming the cache directory', async (ctx) => {
    if (!mounted) ctx.skip();
    const r = await klpSplit(['build', lp, '--kdir', kdir], { env: { HOME: roHome, XDG_CACHE_HOME: '', KLP_SPLIT_CACHE: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cache directory ${roHome}/.cache/klp-split cannot be created (EROFS)`);
  });

  it('verify --report on a full disk: no 0-byte report, an old report kept, exit 2 naming the file', async (ctx) => {
    if (!mounted) ctx.skip();
    const report = join(mnt, 'verify.json');
    writeFileSync(report, '{"old": true}\n');
    // Fill the rest of the file system.
    const fill = (name: string): void => {
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${join(mnt, name)}`, 'bs=4k', 'count=64'], { stdio: 'ignore' });
      } catch {
        // dd ends with ENOSPC: that is the point.
      }
    };
    fill('fill');
    const r = await klpSplitInProcess(['verify', lp, '--no-explore', '--report', report]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${report}: error: cannot write the verify report: ENOSPC; nothing written [report-write]`);
    expect(readFileSync(report, 'utf8')).toBe('{"old": true}\n');
    expect(readdirSync(mnt).sort()).toEqual(['fill', 'verify.json']);
    // No report before: none after (the old code left a 0-byte one).
    removeDir(report);
    fill('fill2');
    const fresh = await klpSplitInProcess(['verify', lp, '--no-explore', '--report', report]);
    expect(fresh.code).toBe(2);
    expect(existsSync(report)).toBe(false);
  });

  it('verify --report to a device writes it in place, never renaming over it', async () => {
    const r = await klpSplitInProcess(['verify', lp, '--no-explore', '--report', '/dev/null']);
    expect(r.code, r.stderr).toBe(0);
    expect(execFileSync('stat', ['-c', '%F', '/dev/null']).toString().trim()).toBe('character special file');
  });
});
