import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { klpSplit, removeDir, samples, tempDir } from '../helpers/env.js';
import { klpSplitInProcess } from '../helpers/in-process.js';
import { killPoints, writePhases, type WritePhases } from '../helpers/kill-points.js';

/**
 * Issue 11, the write layer: `split` and `convert` on the kernel's own
 * samples, killed at each kind of write point (every point in the long fuzz
 * tier), run concurrently, fed manifests that point outside, edited outputs,
 * bytes that are not UTF-8, CRLF sources and failing file systems.
 */

const CALLBACKS = 'livepatch-callbacks-demo.c';
const FIX1 = 'livepatch-shadow-fix1.c';
/** The write layer's own entries: none may stay behind after a run. */
const LEFTOVER = /\.klp-split\.(lock|journal|staging)|\.tmp$/;

/** Every file under `dir` (hidden ones included) with its bytes, as hex for readable diffs. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out[relative(dir, path)] = readFileSync(path).toString('hex');
    }
  };
  walk(dir);
  return out;
}

function leftovers(dir: string): string[] {
  return Object.keys(snapshot(dir)).filter((f) => LEFTOVER.test(f));
}

let work: string;
beforeAll(() => {
  work = tempDir('write-layer');
});
afterAll(() => removeDir(work));

function fresh(name: string): string {
  const dir = join(work, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A copy of samples/livepatch to convert in place. */
function samplesCopy(name: string): string {
  const dir = join(work, name);
  rmSync(dir, { recursive: true, force: true });
  cpSync(samples(), dir, { recursive: true });
  return dir;
}

/**
 * Commands run in this process (helpers/in-process.ts) where the subject is
 * what they write; the kills and the race below run the real command line,
 * each in a process of its own.
 */
const run = klpSplitInProcess;
const split = (file: string, out: string, ...extra: string[]) => run(['split', file, '--out', out, '--all-includes', ...extra]);
const convert = (dir: string, ...extra: string[]) => run(['convert', dir, '--all-includes', ...extra]);

describe('names from a left-over manifest are confined before anything is deleted', () => {
  it('split refuses a klp-split.json whose part file is ../victim.txt (exit 2, naming the manifest) and deletes nothing', async () => {
    const base = fresh('victim-split');
    const out = join(base, 'out');
    writeFileSync(join(base, 'victim.txt'), 'precious\n');
    expect((await split(samples(FIX1), out)).code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, 'klp-split.json'), 'utf8'));
    manifest.parts[1].file = '../victim.txt';
    writeFileSync(join(out, 'klp-split.json'), JSON.stringify(manifest));
    const before = snapshot(base);
    // Another livepatch: the old parts would be deleted as stale.
    const r = await split(samples('livepatch-sample.c'), out);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${join(out, 'klp-split.json')}: error: manifest has a problem: $.parts[1].file: '../victim.txt' leaves the directory`);
    expect(r.stderr).toContain('[manifest-invalid]');
    expect(snapshot(base)).toEqual(before);
  });

  it('convert never deletes through a left-over klp-split.json, and refuses an escaping <patch>.klp-split.json', async () => {
    const base = fresh('victim-convert');
    writeFileSync(join(base, 'victim.txt'), 'precious\n');
    const dir = samplesCopy('victim-convert/samples');
    writeFileSync(join(dir, 'klp-split.json'), JSON.stringify({ patch: 'x', parts: [{ object: 'vmlinux', module: 'x', file: '../victim.txt' }] }));
    const r = await convert(dir);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(base, 'victim.txt'), 'utf8')).toBe('precious\n');

    const again = samplesCopy('victim-convert/samples');
    writeFileSync(join(again, 'livepatch-sample.klp-split.json'), JSON.stringify({ patch: 'x', parts: [{ object: 'vmlinux', module: 'x', file: '../victim.txt' }] }));
    const before = snapshot(base);
    const r2 = await convert(again);
    expect(r2.code, r2.stderr).toBe(2);
    expect(r2.stderr).toContain("livepatch-sample.klp-split.json: error: manifest has a problem: $.parts[0].file: '../victim.txt' leaves the directory");
    expect(snapshot(base)).toEqual(before);
  });
});

describe('a kill at each kind of write point is recovered by the next run', () => {
  /**
   * Runs `args(dir)` (the real command line, in a process of its own)
   * killed at a fixed sample of its write points (helpers/kill-points.ts:
   * the first and last of each phase, and one past the last, which must
   * finish; every point in the long fuzz tier, test/fuzz/kills.fuzz.test.ts);
   * after each kill, the next run (in this process: recovery is the write
   * layer's, not the process's) must give `clean`. Two kill points at a
   * time, each in its own directory (`setup(slot)`). Returns the phases,
   * from what the clean run changed.
   */
  async function killAtEachKind(setup: (slot: number) => string, args: (dir: string) => string[], before: Record<string, string>, clean: Record<string, string>): Promise<WritePhases> {
    const phases = writePhases(before, clean);
    const points = killPoints(phases);
    for (let i = 0; i < points.length; i += 2) {
      await Promise.all(
        points.slice(i, i + 2).map(async (n, slot) => {
          const dir = setup(slot);
          const killed = await klpSplit(args(dir), { env: { KLP_SPLIT_TEST_CRASH_AT: String(n) } });
          if (n > phases.total) {
            // Past the last write point: the run finishes as a clean one.
            expect(killed.code, `step ${n} (past the last): ${killed.stderr}`).toBe(0);
            expect(snapshot(dir)).toEqual(clean);
            return;
          }
          expect(killed.code, `step ${n}: ${killed.stderr}`).toBe(-1);
          const rerun = await run(args(dir));
          expect(rerun.code, `rerun after a kill at step ${n}: ${rerun.stderr}`).toBe(0);
          expect(snapshot(dir), `after a kill at step ${n}`).toEqual(clean);
          expect(leftovers(dir)).toEqual([]);
        }),
      );
    }
    return phases;
  }

  it("split: replacing one livepatch's output by another (writes, renames and deletes)", { timeout: 300_000 }, async () => {
    const template = fresh('crash-split-template');
    expect((await run(['split', samples(CALLBACKS), '--out', template, '--all-includes'])).code).toBe(0);
    const cleanDir = join(work, 'crash-split-clean');
    rmSync(cleanDir, { recursive: true, force: true });
    cpSync(template, cleanDir, { recursive: true });
    expect((await run(['split', samples(FIX1), '--out', cleanDir, '--all-includes'])).code).toBe(0);
    const clean = snapshot(cleanDir);
    expect(Object.keys(clean)).toEqual(['klp-split.json', 'livepatch-shadow-fix1.c', 'livepatch-shadow-fix1__livepatch-shadow-mod.c']);
    const setup = (slot: number): string => {
      const dir = join(work, `crash-split-${slot}`);
      rmSync(dir, { recursive: true, force: true });
      cpSync(template, dir, { recursive: true });
      return dir;
    };
    const phases = await killAtEachKind(setup, (dir) => ['split', samples(FIX1), '--out', dir, '--all-includes'], snapshot(template), clean);
    // 3 staged files, the journal, 3 renames, 4 deletions, the journal's removal: 12 write points.
    expect(phases).toEqual({ writes: 3, deletes: 4, total: 12 });
  });

  it('convert: samples/livepatch in place', { timeout: 600_000 }, async () => {
    const cleanDir = samplesCopy('crash-convert-clean');
    const before = snapshot(cleanDir);
    expect((await run(['convert', cleanDir, '--all-includes'])).code).toBe(0);
    const clean = snapshot(cleanDir);
    const phases = await killAtEachKind((slot) => samplesCopy(`crash-convert-${slot}`), (dir) => ['convert', dir, '--all-includes'], before, clean);
    // 14 staged files, the journal, 14 renames, the journal's removal: 30 write points.
    expect(phases).toEqual({ writes: 14, deletes: 0, total: 30 });
  });
});

describe('two split runs into one directory', () => {
  it('never end mixed: the result is one whole split, and a run that cannot wait says so (exit 2)', { timeout: 300_000 }, async () => {
    const cleanA = fresh('concurrent-a');
    const cleanB = fresh('concurrent-b');
    expect((await split(samples(CALLBACKS), cleanA)).code).toBe(0);
    expect((await split(samples(FIX1), cleanB)).code).toBe(0);
    const wholes = [snapshot(cleanA), snapshot(cleanB)];
    const splitProcess = (file: string, out: string) => klpSplit(['split', file, '--out', out, '--all-includes']);
    // Four rounds here, two from each start; the fuzz tier races more (test/fuzz/kills.fuzz.test.ts).
    for (let round = 0; round < 4; round++) {
      const dir = fresh('concurrent');
      // Half the rounds start from one of the two splits, so the other's deletions race too.
      if (round % 2) cpSync(cleanA, dir, { recursive: true });
      const [a, b] = await Promise.all([splitProcess(samples(CALLBACKS), dir), splitProcess(samples(FIX1), dir)]);
      for (const r of [a, b]) {
        if (r.code !== 0) {
          expect(r.code, r.stderr).toBe(2);
          expect(r.stderr).toMatch(/another klp-split \(pid \d+\) is writing/);
        }
      }
      const result = snapshot(dir);
      expect(wholes).toContainEqual(result);
      if (a.code !== 0) expect(result).toEqual(wholes[1]);
      if (b.code !== 0) expect(result).toEqual(wholes[0]);
      expect(leftovers(dir)).toEqual([]);
    }
  });
});

describe('edits are never lost without a word', () => {
  it('a re-split with no edits is byte-identical and says unchanged', async () => {
    const out = fresh('resplit');
    expect((await split(samples(CALLBACKS), out)).code).toBe(0);
    const before = snapshot(out);
    const r = await split(samples(CALLBACKS), out);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('wrote');
    expect(r.stdout.match(/^ {2}unchanged /gm)).toHaveLength(5);
    expect(snapshot(out)).toEqual(before);
    const manifest = JSON.parse(readFileSync(join(out, 'klp-split.json'), 'utf8'));
    expect(Object.keys(manifest.fileHashes).sort()).toEqual(Object.keys(before).filter((f) => f !== 'klp-split.json').sort());
  });

  it('an edited generated file is not overwritten without --force; the refusal names it', async () => {
    const out = fresh('edited');
    expect((await split(samples(CALLBACKS), out)).code).toBe(0);
    const header = join(out, 'livepatch-callbacks-demo.h');
    writeFileSync(header, `${readFileSync(header, 'utf8')}/* my note */\n`);
    // A changed source, so the re-split has something to write.
    const src = join(fresh('edited-src'), CALLBACKS);
    writeFileSync(src, `${readFileSync(samples(CALLBACKS), 'utf8')}\n/* changed */\n`);
    const before = snapshot(out);
    const r = await split(src, out);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'livepatch-callbacks-demo.h' (edited since klp-split wrote it)");
    expect(r.stderr).toContain('--force');
    expect(snapshot(out)).toEqual(before);
    const forced = await split(src, out, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(header, 'utf8')).not.toContain('my note');
  });

  it('a version 1 manifest (no fileHashes) protects every file it lists: edits not overwritten, listed files not deleted (issue 20)', async () => {
    const srcDir = fresh('v1-src');
    const src = join(srcDir, FIX1);
    writeFileSync(src, readFileSync(samples(FIX1)));
    const out = fresh('v1');
    expect((await split(src, out)).code).toBe(0);
    // What an older klp-split wrote: no manifestVersion, no fileHashes.
    const manifestPath = join(out, 'klp-split.json');
    const { fileHashes: _dropped, manifestVersion: _v, ...v1 } = JSON.parse(readFileSync(manifestPath, 'utf8'));
    writeFileSync(manifestPath, `${JSON.stringify(v1, null, 2)}\n`);
    const part = join(out, 'livepatch-shadow-fix1__livepatch-shadow-mod.c');
    writeFileSync(part, `${readFileSync(part, 'utf8')}/* hand fix */\n`);
    // The object renamed: the re-split would replace the main file and delete the edited part.
    writeFileSync(src, readFileSync(src, 'utf8').replace('.name = "livepatch_shadow_mod"', '.name = "livepatch_shadow_mod2"'));
    const before = snapshot(out);
    const r = await split(src, out);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("'livepatch-shadow-fix1__livepatch-shadow-mod.c' (recorded without a hash by an older klp-split, so it may have been edited)");
    expect(snapshot(out)).toEqual(before);
    const forced = await split(src, out, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(existsSync(part)).toBe(false);
    expect(JSON.parse(readFileSync(manifestPath, 'utf8')).fileHashes).toBeDefined();
  });

  it('renaming an object in the source does not delete the edited file of the old name', async () => {
    const srcDir = fresh('rename-src');
    const src = join(srcDir, FIX1);
    writeFileSync(src, readFileSync(samples(FIX1)));
    const out = fresh('rename');
    expect((await split(src, out)).code).toBe(0);
    const old = join(out, 'livepatch-shadow-fix1__livepatch-shadow-mod.c');
    writeFileSync(old, `${readFileSync(old, 'utf8')}/* hand fix */\n`);
    writeFileSync(src, readFileSync(src, 'utf8').replace('.name = "livepatch_shadow_mod"', '.name = "livepatch_shadow_mod2"'));
    const r = await split(src, out);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'livepatch-shadow-fix1__livepatch-shadow-mod.c' (edited since klp-split wrote it)");
    expect(readFileSync(old, 'utf8')).toContain('/* hand fix */');
    expect(existsSync(join(out, 'livepatch-shadow-fix1__livepatch_shadow_mod2.c'))).toBe(false);
  });
});

describe('convert protects what it did not write and what was edited', () => {
  const perObject = 'livepatch-shadow-fix1__livepatch-shadow-mod.c';

  it('refuses a file in the way that klp-split did not write (exit 2), converts with --force', async () => {
    const dir = samplesCopy('convert-foreign');
    writeFileSync(join(dir, perObject), '/* mine */\n');
    const before = snapshot(dir);
    const r = await convert(dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`'${perObject}' (not written by klp-split)`);
    expect(snapshot(dir)).toEqual(before);
    expect((await convert(dir, '--force')).code).toBe(0);
    expect(readFileSync(join(dir, perObject), 'utf8')).toContain('klp_add_object');
  });

  it('reconverting a restored source does not overwrite the edited per-object file', async () => {
    const dir = samplesCopy('convert-edited');
    expect((await convert(dir)).code).toBe(0);
    writeFileSync(join(dir, perObject), `${readFileSync(join(dir, perObject), 'utf8')}/* hand fix */\n`);
    // The livepatch source back as it was (git checkout), the conversion's other files left.
    cpSync(samples(FIX1), join(dir, FIX1));
    const r = await convert(dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`'${perObject}' (edited since klp-split wrote it)`);
    expect(readFileSync(join(dir, perObject), 'utf8')).toContain('/* hand fix */');
  });
});

describe('content is bytes', () => {
  it('bytes that are not UTF-8 in a C source and a Makefile come out as they went in (convert)', async () => {
    const dir = samplesCopy('latin1');
    const jurgen = Buffer.from('# J\xfcrgen\n', 'latin1');
    writeFileSync(join(dir, 'Makefile'), Buffer.concat([jurgen, readFileSync(join(dir, 'Makefile'))]));
    const src = join(dir, FIX1);
    writeFileSync(src, Buffer.concat([readFileSync(src), Buffer.from('\n/* Gr\xfc\xdfe, J\xfcrgen */\n', 'latin1')]));
    const r = await convert(dir);
    expect(r.code, r.stderr).toBe(0);
    const makefile = readFileSync(join(dir, 'Makefile'));
    expect(makefile.subarray(0, jurgen.length).equals(jurgen)).toBe(true);
    const main = readFileSync(src);
    expect(main.includes(Buffer.from('/* Gr\xfc\xdfe, J\xfcrgen */\n', 'latin1'))).toBe(true);
    for (const f of [makefile, main]) expect(f.includes(Buffer.from('\ufffd', 'utf8'))).toBe(false);
  });

  it('diagnostic columns count bytes when multi-byte characters precede the error', async () => {
    const dir = fresh('columns');
    const body = readFileSync(samples('livepatch-sample.c'), 'latin1');
    const withText = (prefix: string): string => body.replace('#include <linux/module.h>', `#include <linux/module.h>\n${prefix} int broken = ;`);
    writeFileSync(join(dir, 'utf8.c'), Buffer.from(withText('/* \xc3\xa9\xc3\xa9 */'), 'latin1'));
    writeFileSync(join(dir, 'ascii.c'), withText('/* xxxx */'));
    const utf8 = await split(join(dir, 'utf8.c'), join(dir, 'o1'));
    const ascii = await split(join(dir, 'ascii.c'), join(dir, 'o2'));
    expect(utf8.code).toBe(1);
    const col = (s: string): string => /\.c:(\d+:\d+): error/.exec(s)?.[1] ?? 'none';
    expect(col(ascii.stderr)).not.toBe('none');
    expect(col(utf8.stderr)).toBe(col(ascii.stderr));
  });

  it('a CRLF source comes out with CRLF line ends only, an LF source with none', async () => {
    const dir = fresh('crlf');
    writeFileSync(join(dir, CALLBACKS), readFileSync(samples(CALLBACKS), 'latin1').replace(/\n/g, '\r\n'), 'latin1');
    expect((await split(join(dir, CALLBACKS), join(dir, 'out'))).code).toBe(0);
    const outputs = readdirSync(join(dir, 'out')).filter((f) => /\.[ch]$/.test(f));
    expect(outputs).toHaveLength(4);
    for (const f of outputs) {
      const text = readFileSync(join(dir, 'out', f), 'latin1');
      expect(text.match(/(?<!\r)\n/g), f).toBeNull();
    }
    const lf = fresh('lf');
    expect((await split(samples(CALLBACKS), lf)).code).toBe(0);
    for (const f of readdirSync(lf)) expect(readFileSync(join(lf, f), 'latin1')).not.toContain('\r');
  });

  it('a comment at the very end of a source is kept (in the main file)', async () => {
    const dir = fresh('eof-comment');
    writeFileSync(join(dir, FIX1), `${readFileSync(samples(FIX1), 'latin1')}\n/* end of ${FIX1} */`, 'latin1');
    expect((await split(join(dir, FIX1), join(dir, 'out'))).code).toBe(0);
    expect(readFileSync(join(dir, 'out', FIX1), 'latin1').endsWith(`\n\n/* end of ${FIX1} */\n`)).toBe(true);
  });

  it('convert keeps a Makefile whose last line ends in a backslash with no final newline valid for make', async () => {
    const dir = samplesCopy('dangling');
    const makefile = readFileSync(join(dir, 'Makefile'), 'latin1')
      .replace('obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-callbacks-demo.o\n', '')
      .replace(/livepatch-callbacks-busymod\.o\n$/, 'livepatch-callbacks-busymod.o livepatch-callbacks-demo.o \\');
    writeFileSync(join(dir, 'Makefile'), makefile, 'latin1');
    expect((await convert(dir)).code).toBe(0);
    writeFileSync(join(work, 'print.mk'), 'print:\n\t@echo $(obj-m)\n');
    const listed = (await execa('make', ['-s', '-f', join(dir, 'Makefile'), '-f', join(work, 'print.mk'), 'CONFIG_SAMPLE_LIVEPATCH=m', 'print'])).stdout.split(/\s+/);
    expect(listed).toContain('livepatch-callbacks-demo.o');
    expect(listed).toContain('livepatch-callbacks-demo__livepatch-callbacks-mod.o');
    expect(listed).not.toContain('+=');
  });
});

describe('build writes its Kbuild and build record through the write layer', () => {
  it('refuses a hand-written Kbuild (exit 2, naming it), then with --force builds and records as a whole', { timeout: 300_000 }, async () => {
    const out = fresh('build');
    expect((await split(samples('livepatch-sample.c'), out)).code).toBe(0);
    writeFileSync(join(out, 'Kbuild'), 'obj-m += mine.o\n');
    const refused = await run(['build', out]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("'Kbuild' (not written by klp-split)");
    expect(readFileSync(join(out, 'Kbuild'), 'utf8')).toBe('obj-m += mine.o\n');
    expect(leftovers(out)).toEqual([]);

    const built = await run(['build', out, '--force']);
    expect(built.code, built.stderr).toBe(0);
    expect(readFileSync(join(out, 'Kbuild'), 'utf8')).toMatch(/^# Generated by klp-split .*\nobj-m \+= livepatch-sample\.o\n$/);
    const record = JSON.parse(readFileSync(join(out, '.klp-split/build.json'), 'utf8'));
    expect(record.modules).toEqual([{ module: 'livepatch_sample', ko: 'livepatch-sample.ko', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(leftovers(out)).toEqual([]);
  });
});

describe('output directories that cannot be written', () => {
  it('--out naming a file, or a path under a file: exit 2, a diagnostic, the file untouched', async () => {
    const dir = fresh('out-file');
    const file = join(dir, 'file');
    writeFileSync(file, 'keep');
    const r = await split(samples(FIX1), file);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not a directory \[not-a-directory\]/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const under = await split(samples(FIX1), join(file, 'sub'));
    expect(under.code).toBe(2);
    expect(under.stderr).toMatch(/ENOTDIR/);
    expect(readFileSync(file, 'utf8')).toBe('keep');
    expect(readdirSync(dir)).toEqual(['file']);
  });

  it('old-scheme temporary files are cleaned by the next run', async () => {
    const out = fresh('old-tmp');
    expect((await split(samples(FIX1), out)).code).toBe(0);
    writeFileSync(join(out, '.livepatch-shadow-fix1.c.klp-split-4242.tmp'), 'half');
    const r = await split(samples(FIX1), out);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('removed temporary files of an interrupted write by an older klp-split [interrupted-old-write]');
    expect(leftovers(out)).toEqual([]);

    // convert cannot vouch for sources an older run had already replaced: it says so.
    const dir = samplesCopy('old-tmp-convert');
    writeFileSync(join(dir, '.livepatch-sample.c.klp-split-4242.tmp'), 'half');
    const c = await convert(dir);
    expect(c.code).toBe(0);
    expect(c.stderr).toContain('compare the directory with version control [interrupted-old-write]');
    expect(leftovers(dir)).toEqual([]);
  });

  describe('on a tiny tmpfs (read-only, full)', () => {
    let mnt: string;
    let mounted = false;
    beforeAll(() => {
      mnt = fresh('tmpfs');
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { stdio: 'ignore' });
        mounted = true;
      } catch {
        mounted = false;
      }
    });
    afterAll(() => {
      if (mounted) execFileSync('umount', [mnt]);
    });

    it('ENOSPC while staging: exit 2, the directory as it was, no staging or lock left', async (ctx) => {
      ctx.skip(!mounted, 'cannot mount a tmpfs here');
      const out = join(mnt, 'out');
      expect((await split(samples('livepatch-sample.c'), out)).code).toBe(0);
      const before = snapshot(out);
      // Fill the file system, then free two pages: room for the lock, not for the split.
      const filler = join(mnt, 'filler');
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
      } catch {
        /* ENOSPC ends dd */
      }
      truncateSync(filler, Math.max(0, statSync(filler).size - 8192));
      const r = await split(samples(CALLBACKS), out);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/ENOSPC/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(snapshot(out)).toEqual(before);
      rmSync(filler);
    });

    it('EROFS: exit 2, nothing changed', async (ctx) => {
      ctx.skip(!mounted, 'cannot mount a tmpfs here');
      const out = join(mnt, 'ro');
      expect((await split(samples('livepatch-sample.c'), out)).code).toBe(0);
      const before = snapshot(out);
      execFileSync('mount', ['-o', 'remount,ro', mnt]);
      try {
        const r = await split(samples(CALLBACKS), out);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toMatch(/EROFS/);
        expect(snapshot(out)).toEqual(before);
      } finally {
        execFileSync('mount', ['-o', 'remount,rw', mnt]);
      }
    });
  });
});
