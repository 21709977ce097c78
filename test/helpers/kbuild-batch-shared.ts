import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Diagnostic } from '@klp-split/core';
import { removeDir, tempDir } from './env.js';
import { sharedFixture } from './fixtures.js';
import { kbuildBatch, type BatchResult, type BatchUnit } from './kbuild-batch.js';

/**
 * A kbuild batch's outcome (kbuild-batch.ts) kept as a shared fixture: make's
 * exit status, its whole output, every unit's diagnostics and whether its
 * modules were linked are a function of what the run reads — the units'
 * files and modules, the kernel headers and gcc, the overlays and Kbuild
 * text the tool makes (the tool key), and the batch helper itself — so they
 * are keyed by all of it. A warm run reads the outcome; any change to a
 * unit's text compiles the batch again. A failed compile is an outcome like
 * any other: kept, for the suite to report.
 */
export async function sharedKbuildBatch(name: string, units: BatchUnit[]): Promise<BatchResult> {
  const facts = [...units]
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((u) => [
      `unit ${u.name} ${u.api} ${u.compileOnly ? 'compile-only' : 'modules'} ${JSON.stringify(u.modules)}`,
      ...[...u.files].sort(([a], [b]) => a.localeCompare(b)).map(([f, text]) => `${u.name}/${f}\0${text}`),
    ]);
  const dir = await sharedFixture(name, { facts, files: ['test/helpers/kbuild-batch.ts'] }, async (d) => {
    const root = tempDir(name);
    try {
      const r = await kbuildBatch(root, units);
      writeFileSync(join(d, 'outcome.json'), JSON.stringify({ ...r, diagnostics: [...r.diagnostics], built: [...r.built] }));
    } finally {
      removeDir(root);
    }
  });
  const kept = JSON.parse(readFileSync(join(dir, 'outcome.json'), 'utf8')) as Omit<BatchResult, 'diagnostics' | 'built'> & { diagnostics: [string, Diagnostic[]][]; built: [string, boolean][] };
  return { ...kept, diagnostics: new Map(kept.diagnostics), built: new Map(kept.built) };
}
