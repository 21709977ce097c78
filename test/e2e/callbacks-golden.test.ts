import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSplitSystem, newKernel, parseScenario, runScenario, type SimSystem } from '@klp-split/runtime-sim';
import { corpusModules, corpusSplits } from '../helpers/corpus.js';
import { ROOT } from '../helpers/env.js';

/**
 * The scenarios of the 6.1 test-callbacks.sh, rewritten for split modules,
 * replayed in the simulator; transcripts are checked in as golden files
 * (KLP_SPLIT_UPDATE_GOLDEN=1 rewrites them).
 */
const GOLDEN = join(ROOT, 'test/golden/split-callbacks');
const UPDATE = process.env.KLP_SPLIT_UPDATE_GOLDEN === '1';

describe('test-callbacks.sh scenarios on split modules', () => {
  let sys: SimSystem;

  beforeAll(async () => {
    const [targets, splits] = await Promise.all([corpusModules(), corpusSplits()]);
    const systems = [];
    for (const lp of ['test_klp_callbacks_demo', 'test_klp_callbacks_demo2']) {
      expect(splits.build(lp).code).toBe(0);
      systems.push(loadSplitSystem(splits.dir(lp), [targets.ko('test_klp_callbacks_mod'), targets.ko('test_klp_callbacks_busy')]));
    }
    const [demo, demo2] = systems;
    sys = { ...demo!.sys, images: [...demo!.parts.map((p) => p.image), ...demo2!.parts.map((p) => p.image), ...demo!.targets] };
  });

  const scenarios = readdirSync(GOLDEN).filter((f) => f.endsWith('.scenario')).sort();
  it('covers every test-callbacks.sh case', () => {
    expect(scenarios.length).toBe(11);
  });

  for (const file of scenarios) {
    it(`replays ${file} as its golden transcript`, () => {
      const steps = parseScenario(readFileSync(join(GOLDEN, file), 'utf8'), file);
      const r = runScenario(newKernel(sys), steps);
      const text = [...r.transcript, ...r.violations.map((v) => `violation [${v.code}] after ${v.after}: ${v.message}`)].join('\n') + '\n';
      const golden = join(GOLDEN, file.replace(/\.scenario$/, '.transcript'));
      if (UPDATE) writeFileSync(golden, text);
      expect(existsSync(golden), `${golden} (run with KLP_SPLIT_UPDATE_GOLDEN=1)`).toBe(true);
      expect(text).toBe(readFileSync(golden, 'utf8'));
      expect(r.violations).toEqual([]);
    });
  }
});
