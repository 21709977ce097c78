import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseC, splitFile, type SplitResult } from '@klp-split/splitter';
import { checkpatch } from '../helpers/checkpatch.js';
import { corpus, kernelIncludeDirs, removeDir, tempDir } from '../helpers/env.js';
import { CORPUS_LIVEPATCHES, CORPUS_PER_OBJECT, CORPUS_SPLITS, CORPUS_TARGETS, corpusSources, corpusSplits, type CorpusSplits } from '../helpers/corpus.js';
import { klpSplitInProcess as klpSplit } from '../helpers/in-process.js';

/**
 * Issue 3: every livepatch-related source of linux-source-6.1 through the
 * splitter. `klp-split split` runs in-process (helpers/in-process.ts); the
 * builds and checkpatch's reports are shared fixtures keyed by their inputs.
 */
describe('the linux-source-6.1 livepatch corpus', () => {
  let root: string;
  const results = new Map<string, SplitResult>();
  const outDir = (base: string) => join(root, base);
  let splits: CorpusSplits;

  beforeAll(async () => {
    root = tempDir('corpus');
    // The splits built by the shared fixture (test/helpers/corpus.ts), which ran `klp-split split` and `klp-split build --json` on each.
    const built = corpusSplits();
    for (const src of corpusSources()) {
      const base = basename(src, '.c');
      // The CLI names the original in the source map relative to its output directory.
      results.set(base, splitFile(src, { includeDirs: kernelIncludeDirs(), sourceRelativeTo: outDir(base) }));
      await klpSplit(['split', src, '--out', outDir(base)]);
    }
    splits = await built;
  });
  afterAll(() => removeDir(root));

  it('splits the ten livepatches, four of them with per-object modules', () => {
    const split = [...results].filter(([, r]) => r.kind === 'split').map(([b]) => b);
    expect(split.sort()).toEqual([...CORPUS_LIVEPATCHES, 'test_klp_state3'].sort());
    for (const base of CORPUS_LIVEPATCHES) {
      const modules = results.get(base)!.manifest!.parts.slice(1).map((p) => p.module);
      expect(modules, base).toEqual(CORPUS_PER_OBJECT[base] ?? []);
    }
  });

  it('reports the target modules as not livepatches and writes nothing for them', async () => {
    for (const base of CORPUS_TARGETS) {
      expect(results.get(base)!.kind, base).toBe('not-livepatch');
      expect(results.get(base)!.diagnostics.map((d) => d.code)).toEqual(['not-livepatch']);
      const r = await klpSplit(['split', join(corpus(), base.startsWith('test_') ? 'lib/livepatch' : 'samples/livepatch', `${base}.c`), '--out', outDir(`${base}-again`)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('not a livepatch');
    }
    const written = readdirSync(root);
    for (const base of CORPUS_TARGETS) expect(written).not.toContain(base);
  });

  it('builds test_klp_state3 from the split of the test_klp_state2 source it includes', () => {
    const r = results.get('test_klp_state3')!;
    expect(r.diagnostics.map((d) => d.code)).toEqual(['includes-livepatch']);
    expect(r.manifest!.parts).toEqual([expect.objectContaining({ module: 'test_klp_state3', file: 'test_klp_state3.c' })]);
    expect(r.files.get('test_klp_state3.c')).toContain('#include "test_klp_state2.c"');
    expect(r.files.get('test_klp_state2.c')).toContain('.patch_name = KBUILD_MODNAME,');
  });

  it('emits files without tree-sitter errors, and without checkpatch errors', async () => {
    const files: string[] = [];
    for (const [base, r] of results) {
      for (const [name, text] of r.files) {
        if (!/\.[ch]$/.test(name)) continue;
        expect(parseC(text).rootNode.hasError, `${base}/${name}`).toBe(false);
        files.push(join(outDir(base), name));
      }
    }
    const reports = await checkpatch(files);
    files.forEach((file, i) => {
      expect(reports[i]!.split('\n').filter((l) => l.startsWith('ERROR:')), file).toEqual([]);
      expect(reports[i], file).toMatch(/^total: 0 errors, \d+ warnings, \d+ lines checked$/m);
    });
  });

  it('compiles every split without a warning, into modules named as the manifest says', async () => {
    expect([...results].filter(([, r]) => r.kind === 'split').map(([b]) => b).sort()).toEqual(CORPUS_SPLITS);
    for (const [base, r] of results) {
      if (r.kind !== 'split') continue;
      // The fixture's split is this suite's, file for file.
      for (const [name, text] of r.files) if (/\.[ch]$/.test(name)) expect(readFileSync(join(splits.dir(base), name), 'utf8'), `${base}/${name}`).toBe(text);
      const b = splits.build(base);
      expect(b.code, `${base}: ${b.stdout}${b.stderr}`).toBe(0);
      const built = JSON.parse(b.stdout);
      expect(built.diagnostics, base).toEqual([]);
      for (const part of r.manifest!.parts) {
        const ko = join(splits.dir(base), part.file.replace(/\.c$/, '.ko'));
        const name = await execa('modinfo', ['-F', 'name', ko]);
        expect(name.stdout.trim(), ko).toBe(part.module);
      }
    }
  });

  it('gives byte-identical output when split twice, and leaves its own output alone', async () => {
    for (const [base, r] of results) {
      if (r.kind !== 'split') continue;
      const again = tempDir(`again-${base}`);
      try {
        const src = r.source;
        expect((await klpSplit(['split', src, '--out', again])).code).toBe(0);
        // Byte for byte, but for the source map's path to the original, which is relative to each output directory.
        const absolute = (m: { sourceMap?: { sources: string[] } }, dir: string) => {
          if (m.sourceMap) m.sourceMap.sources = m.sourceMap.sources.map((s: string) => resolve(dir, s));
          return m;
        };
        for (const [name, text] of r.files) {
          const written = readFileSync(join(again, name), 'utf8');
          // The written manifest adds the sha256 of each generated file (edit protection); the rest is the split's.
          if (name === 'klp-split.json') {
            const { fileHashes, ...rest } = JSON.parse(written);
            expect(Object.keys(fileHashes).sort(), base).toEqual([...r.files.keys()].filter((f) => f !== name).sort());
            const { fileHashes: _first, ...expected } = JSON.parse(text);
            expect(absolute(rest, again), `${base}/${name}`).toEqual(absolute(expected, outDir(base)));
          } else expect(written, `${base}/${name}`).toBe(text);
        }
        const rerun = await klpSplit(['split', src, '--out', outDir(base)]);
        expect(rerun.stdout).not.toContain('wrote');
      } finally {
        removeDir(again);
      }
      for (const part of r.manifest!.parts) {
        if (base === 'test_klp_state3') continue;
        const second = splitFile(join(outDir(base), part.file));
        expect(second.kind, `${base}/${part.file}`).toBe('already-split');
        expect(second.files.size).toBe(0);
      }
    }
  });
});
