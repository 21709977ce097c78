import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { klpSplit, removeDir, tempDir } from '../helpers/env.js';
import { livepatchSource, targetSource } from '../../bench/gen-targets.mjs';

/** Issue 14: livepatches fixing 6 and 10 modules are verified with a complete model check (timing is bench/'s business). */
describe('model check at scale', () => {
  let work: string;
  const ko = (i: number) => join(work, 'targets', `klpmc-t${i}.ko`);

  beforeAll(async () => {
    work = tempDir('model-check-scale');
    mkdirSync(join(work, 'targets'), { recursive: true });
    for (let i = 0; i < 10; i++) writeFileSync(join(work, 'targets', `klpmc-t${i}.c`), targetSource(i));
    const b = await klpSplit(['build', join(work, 'targets')]);
    expect(b.code, b.stdout + b.stderr).toBe(0);
  });
  afterAll(() => removeDir(work));

  for (const k of [6, 10]) {
    it(`verifies a livepatch fixing ${k} modules with a complete search`, async () => {
      const src = join(work, `klpmc-fix${k}.c`);
      writeFileSync(src, livepatchSource(k));
      const out = join(work, `out${k}`);
      expect((await klpSplit(['split', src, '--out', out])).code).toBe(0);
      const b = await klpSplit(['build', out]);
      expect(b.code, b.stdout + b.stderr).toBe(0);
      const targets = Array.from({ length: k }, (_, i) => ['--target', ko(i)]).flat();
      const r = await klpSplit(['verify', out, ...targets, '--format', 'json']);
      const report = JSON.parse(r.stdout);
      expect(report.diagnostics.filter((d: { severity: string }) => d.severity === 'error')).toEqual([]);
      expect(r.code).toBe(0);
      expect(report.exploration.complete).toBe(true);
      expect(report.exploration.groups).toHaveLength(k);
      expect(report.exploration.groupsComplete).toBe(k);
      expect(report.exploration.violations).toBe(0);
    });
  }
});
