import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseC, splitFile, type SplitResult } from '@klp-split/splitter';
import { formatDiagnostic } from '@klp-split/core';
import { kernelIncludeDirs, klpSplit, removeDir, ROOT, tempDir } from './helpers/env.js';

/**
 * Tricky livepatches written for this project, each with its expected split
 * checked in under expected/. KLP_SPLIT_UPDATE_FIXTURES=1 rewrites them.
 */
const FIXTURES = join(ROOT, 'test/fixtures/split');
const UPDATE = process.env.KLP_SPLIT_UPDATE_FIXTURES === '1';

function fixtureNames(): string[] {
  return readdirSync(FIXTURES).sort();
}

function splitFixture(name: string): SplitResult {
  const input = join(FIXTURES, name, 'input');
  const source = readdirSync(input).find((f) => f.endsWith('.c'))!;
  return splitFile(join(input, source), { displayName: source, includeDirs: kernelIncludeDirs() });
}

function expectedText(r: SplitResult): Map<string, string> {
  const files = new Map(r.files);
  files.set('diagnostics.txt', r.diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join(''));
  return files;
}

describe('tricky livepatch fixtures', () => {
  it('has at least 15 fixtures', () => {
    expect(fixtureNames().length).toBeGreaterThanOrEqual(15);
  });

  for (const name of fixtureNames()) {
    it(`splits ${name} as expected`, () => {
      const r = splitFixture(name);
      expect(r.kind).toBe('split');
      const want = join(FIXTURES, name, 'expected');
      const got = expectedText(r);
      if (UPDATE) {
        rmSync(want, { recursive: true, force: true });
        mkdirSync(want, { recursive: true });
        for (const [file, text] of got) writeFileSync(join(want, file), text);
      }
      expect(existsSync(want), `${want} (run with KLP_SPLIT_UPDATE_FIXTURES=1)`).toBe(true);
      expect(readdirSync(want).sort()).toEqual([...got.keys()].sort());
      for (const [file, text] of got) expect(text, `${name}/${file}`).toBe(readFileSync(join(want, file), 'utf8'));
      for (const [file, text] of r.files) if (/\.[ch]$/.test(file)) expect(parseC(text).rootNode.hasError, file).toBe(false);
    });
  }

  it('compiles every fixture split with kbuild without a warning', async () => {
    const root = tempDir('fixtures');
    try {
      const names = fixtureNames();
      const build = async (name: string) => {
        const dir = join(root, name);
        const r = splitFixture(name);
        mkdirSync(dir, { recursive: true });
        for (const [file, text] of r.files) writeFileSync(join(dir, file), text);
        const b = await klpSplit(['build', dir, '--json']);
        return { name, code: b.code, out: b.stdout + b.stderr };
      };
      const results = [];
      for (let i = 0; i < names.length; i += 2) results.push(...(await Promise.all(names.slice(i, i + 2).map(build))));
      for (const r of results) {
        expect(r.code, `${r.name}: ${r.out}`).toBe(0);
        expect(JSON.parse(r.out).diagnostics, r.name).toEqual([]);
      }
    } finally {
      removeDir(root);
    }
  });
});

