import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { builtSources } from '../helpers/fixtures.js';
import { klpSplitInProcess } from '../helpers/in-process.js';
import { splitAndBuilt } from '../helpers/split-built.js';
import { livepatchSource, targetSource } from '../../bench/gen-targets.mjs';

/**
 * Issue 14: livepatches fixing 6 and 10 modules are verified with a complete
 * model check (timing is bench/'s business). The targets and the splits are
 * shared fixtures keyed by their generated sources; verify runs in this
 * process (model-check.test.ts runs it through the command line).
 */
describe('model check at scale', () => {
  let targets: string;
  let split: (stem: string) => string;
  const ko = (i: number) => join(targets, `klpmc-t${i}.ko`);

  beforeAll(async () => {
    [targets, split] = await Promise.all([
      builtSources('model-check-scale-targets', Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`klpmc-t${i}.c`, targetSource(i)]))),
      splitAndBuilt('model-check-scale-splits', { 'klpmc-fix6.c': livepatchSource(6), 'klpmc-fix10.c': livepatchSource(10) }),
    ]);
  });

  for (const k of [6, 10]) {
    it(`verifies a livepatch fixing ${k} modules with a complete search`, async () => {
      const args = Array.from({ length: k }, (_, i) => ['--target', ko(i)]).flat();
      const r = await klpSplitInProcess(['verify', split(`klpmc-fix${k}`), ...args, '--format', 'json']);
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
