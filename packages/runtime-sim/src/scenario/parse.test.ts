import { describe, expect, it } from 'vitest';
import { parseScenario, ScenarioError, stepCommand } from './parse.js';

describe('the scenario language', () => {
  it('reads commands and directives, with their lines', () => {
    const steps = parseScenario(
      [
        '# comment',
        'modprobe test-klp-livepatch replace=1',
        'echo 1 > /sys/kernel/livepatch/p/enabled',
        'echo 0 > /sys/kernel/livepatch/p/enabled',
        '@sysfs /sys/kernel/livepatch/p/vmlinux/patched 1',
        '@sysfs /sys/kernel/livepatch/p/force --w-------',
        '@set_ftrace_enabled 0',
        '@race rmmod m',
        '@lsmod',
        'echo 1 > /sys/kernel/livepatch/p/force',
      ].join('\n'),
      's.scenario',
    );
    expect(steps).toEqual([
      { kind: 'modprobe', module: 'test_klp_livepatch', params: ['replace=1'], line: 2 },
      { kind: 'enable', patch: 'p', line: 3 },
      { kind: 'disable', patch: 'p', line: 4 },
      { kind: 'sysfs', path: '/sys/kernel/livepatch/p/vmlinux/patched', expected: '1', line: 5 },
      { kind: 'sysfs', path: '/sys/kernel/livepatch/p/force', expected: '--w-------', line: 6 },
      { kind: 'ftrace-enabled', value: false, line: 7 },
      { kind: 'rmmod', module: 'm', line: 8, race: true },
      { kind: 'lsmod', line: 9 },
      { kind: 'force', patch: 'p', line: 10 },
    ]);
    expect(steps.map(stepCommand)).toEqual([
      'modprobe test_klp_livepatch replace=1',
      'echo 1 > /sys/kernel/livepatch/p/enabled',
      'echo 0 > /sys/kernel/livepatch/p/enabled',
      undefined,
      undefined,
      undefined,
      'rmmod m',
      undefined,
      'echo 1 > /sys/kernel/livepatch/p/force',
    ]);
  });

  it('reports every line it cannot read at its line and column', () => {
    const bad = () => parseScenario('modprobe ok\n  echo 2 > /sys/kernel/livepatch/p/enabled\n@sysfs /proc/x 1\n@set_ftrace_enabled yes\n@lsmod x', 'bad.scenario');
    expect(bad).toThrow(ScenarioError);
    try {
      bad();
    } catch (e) {
      expect((e as ScenarioError).diagnostics.map((d) => `${d.file}:${d.line}:${d.col} ${d.code}`)).toEqual([
        'bad.scenario:2:3 scenario-syntax',
        'bad.scenario:3:1 scenario-syntax',
        'bad.scenario:4:1 scenario-syntax',
        'bad.scenario:5:1 scenario-syntax',
      ]);
    }
  });
});
