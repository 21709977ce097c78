import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseC, splitFile, type SplitResult } from '@klp-split/splitter';
import { formatDiagnostic } from '@klp-split/core';
import { discoverKernelTree } from '@klp-split/kernel-facts';
import { kernelIncludeDirs, ROOT } from './helpers/env.js';
import { isAnnotationUndefined, splitUnit, type BatchUnit } from './helpers/kbuild-batch.js';
import { sharedKbuildBatch } from './helpers/kbuild-batch-shared.js';
import { keptPreprocess } from './helpers/kept-preprocess.js';
import { QUICK } from './tiers.js';

/**
 * Tricky livepatches written for this project, each with its expected split
 * checked in under expected/ (a fixture the split refuses has only the
 * diagnostics there). KLP_SPLIT_UPDATE_FIXTURES=1 rewrites them.
 */
const FIXTURES = join(ROOT, 'test/fixtures/split');
const UPDATE = process.env.KLP_SPLIT_UPDATE_FIXTURES === '1';

function fixtureNames(): string[] {
  return readdirSync(FIXTURES).sort();
}

function inputOf(name: string): { dir: string; source: string } {
  const dir = join(FIXTURES, name, 'input');
  return { dir, source: readdirSync(dir).find((f) => f.endsWith('.c'))! };
}

const splits = new Map<string, SplitResult>();

/** The split as the CLI makes it with a kernel tree: its headers decide the includes, kbuild's preprocessor what only it can evaluate. */
function splitFixture(name: string): SplitResult {
  let r = splits.get(name);
  if (!r) {
    const { dir, source } = inputOf(name);
    const tree = discoverKernelTree();
    r = splitFile(join(dir, source), { displayName: source, includeDirs: kernelIncludeDirs(), preprocess: keptPreprocess(tree) });
    splits.set(name, r);
  }
  return r;
}

function expectedText(r: SplitResult): Map<string, string> {
  const files = new Map(r.files);
  files.set('diagnostics.txt', r.diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join(''));
  return files;
}

/** Every file under `dir`, by path relative to it. */
function filesUnder(dir: string, base = dir): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) for (const [k, v] of filesUnder(p, base)) out.set(k, v);
    else out.set(relative(base, p), readFileSync(p, 'latin1'));
  }
  return out;
}

/** Line-level longest common subsequence: the original's lines the other text does not keep, as line numbers. */
function changedLines(original: string, other: string): number[] {
  const a = original.split('\n');
  const b = other.split('\n');
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const changed: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length) {
    if (j < b.length && a[i] === b[j]) {
      i++;
      j++;
    } else if (j < b.length && lcs[i]![j + 1]! >= lcs[i + 1]![j]!) j++;
    else changed.push(++i);
  }
  return changed;
}

describe('tricky livepatch fixtures', () => {
  it('has at least 25 fixtures', () => {
    expect(fixtureNames().length).toBeGreaterThanOrEqual(25);
  });

  for (const name of fixtureNames()) {
    it(`splits ${name} as expected`, () => {
      const r = splitFixture(name);
      const want = join(FIXTURES, name, 'expected');
      const got = expectedText(r);
      if (UPDATE) {
        rmSync(want, { recursive: true, force: true });
        mkdirSync(want, { recursive: true });
        for (const [file, text] of got) {
          mkdirSync(join(want, file, '..'), { recursive: true });
          writeFileSync(join(want, file), text, 'latin1');
        }
      }
      expect(existsSync(want), `${want} (run with KLP_SPLIT_UPDATE_FIXTURES=1)`).toBe(true);
      // A fixture the split refuses has only its diagnostics under expected/.
      expect(r.kind).toBe(existsSync(join(want, 'klp-split.json')) ? 'split' : 'invalid');
      const expected = filesUnder(want);
      expect([...expected.keys()].sort()).toEqual([...got.keys()].sort());
      for (const [file, text] of got) expect(text, `${name}/${file}`).toBe(expected.get(file));
      for (const [file, text] of r.files) if (/\.[ch]$/.test(file)) expect(parseC(text).rootNode.hasError, file).toBe(false);
    });
  }

  it('splits a livepatch that patches only vmlinux into its original, changed only where the split API differs', () => {
    for (const name of ['vmlinux-only', 'vmlinux-kprobes']) {
      const { dir, source } = inputOf(name);
      const original = readFileSync(join(dir, source), 'latin1');
      const r = splitFixture(name);
      expect(r.manifest!.parts.map((p) => p.object)).toEqual(['vmlinux']);
      const lines = original.split('\n');
      // Every original line the main part changes is inside the klp_object array or the klp_patch definition.
      const apiLines = new Set<number>();
      for (const re of [/^static struct klp_object \w+\[\] = \{$/, /^static struct klp_patch \w+ = \{$/]) {
        const at = lines.findIndex((l) => re.test(l));
        expect(at, `${name}: ${re}`).toBeGreaterThanOrEqual(0);
        for (let i = at; i < lines.length && (i === at || !/^\};/.test(lines[i - 1]!)); i++) apiLines.add(i + 1);
      }
      const changed = changedLines(original, r.files.get(source)!);
      expect(changed.length, name).toBeGreaterThan(0);
      expect(changed.filter((l) => !apiLines.has(l)).map((l) => `${l}: ${lines[l - 1]}`), name).toEqual([]);
    }
  });

  // kbuild is not the quick tier's (test/tiers.ts): `npm test` compiles them.
  it.skipIf(QUICK)('compiles every fixture split, and every original (compiled only), with one kbuild run without a warning', { timeout: 1_800_000 }, async () => {
    const units: BatchUnit[] = [];
    for (const name of fixtureNames()) {
      const { dir, source } = inputOf(name);
      // The original under another file name: its module must not clash with the split's main module.
      const files = filesUnder(dir);
      files.set(`orig-${source}`, files.get(source)!);
      files.delete(source);
      units.push({ name: `${name}--original`, files, modules: [{ object: `orig-${source.replace(/\.c$/, '.o')}` }], api: 'classic', compileOnly: true });
      const r = splitFixture(name);
      if (r.kind === 'split') units.push(splitUnit(name, r.files));
    }
    // The compile's outcome is a shared fixture keyed by every unit's text (and the tool, headers, gcc).
    const result = await sharedKbuildBatch('split-fixtures-compile', units);
    const findings = units.flatMap((u) => (result.diagnostics.get(u.name) ?? []).filter((d) => !isAnnotationUndefined(d)).map((d) => `${u.name}/${formatDiagnostic(d)}`));
    expect(findings).toEqual([]);
    expect(result.diagnostics.get('') ?? [], result.output).toEqual([]);
    expect(units.filter((u) => !result.built.get(u.name)).map((u) => u.name), result.output.slice(-3000)).toEqual([]);
  });
});
