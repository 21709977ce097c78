import { describe, expect, it } from 'vitest';
import { parseScenario } from '../scenario/parse.js';
import { parseBudget } from './budget.js';
import { counterexampleScenario } from './counterexample.js';

describe('--budget', () => {
  it('reads a time, a number of states, or both', () => {
    expect(parseBudget('90s')).toEqual({ ms: 90_000 });
    expect(parseBudget('2m,500000')).toEqual({ ms: 120_000, states: 500_000 });
    expect(parseBudget('1500ms, 20states')).toEqual({ ms: 1500, states: 20 });
  });

  it('names what it cannot read', () => {
    expect(parseBudget('soon')).toMatch(/cannot read budget 'soon'/);
    expect(parseBudget('0s')).toMatch(/allows nothing/);
  });
});

describe('counterexample scenarios', () => {
  it('are scenarios the parser reads back to the same steps', () => {
    const text = counterexampleScenario(
      { code: 'modprobe-loop', message: 'x', lines: ['@start modprobe p', '@step p', '@step p__t#2', 'rmmod t', '@async p__t', 'echo 0 > /sys/kernel/livepatch/p/enabled'] },
      { postedGuardDefect: true },
    );
    const steps = parseScenario(text, 'cx.scenario');
    expect(steps.map((s) => s.kind)).toEqual(['posted-guard-defect', 'interleave', 'modprobe', 'step', 'step', 'rmmod', 'async', 'disable']);
    expect(steps[2]).toMatchObject({ module: 'p', start: true });
    expect(steps[4]).toMatchObject({ module: 'p__t', nth: 2 });
  });

  it('carry the sleeping tasks of a forced-transition search, and the force write parses back', () => {
    const text = counterexampleScenario(
      { code: 'forced-module-released', message: 'x', lines: ['@start modprobe p', 'echo 1 > /sys/kernel/livepatch/p/force'] },
      { sleeping: ['vmlinux:cmdline_proc_show'] },
    );
    const steps = parseScenario(text, 'cx.scenario');
    expect(steps.map((s) => s.kind)).toEqual(['sleeping', 'interleave', 'modprobe', 'force']);
    expect(steps[0]).toMatchObject({ object: 'vmlinux', func: 'cmdline_proc_show' });
    expect(steps[3]).toMatchObject({ patch: 'p' });
  });
});
