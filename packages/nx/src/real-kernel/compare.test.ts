import { describe, expect, it } from 'vitest';
import { align, comparable, sideBySide } from './compare.js';
import { caseTranscript, commandOutput, parseGuestReport } from './guest-report.js';
import { GuestSetupError, harnessEnv, projectScripts } from './guest-run.js';

describe('the guest report and the comparison with the simulator', () => {
  it('reads cases, commands, outputs, statuses, the kept kernel lines and problems from the kernel log', () => {
    const dmesg = [
      '[    1.000000] klp-guest: case one',
      '[    1.100000] klp-guest: % modprobe p',
      '[    1.200000] livepatch: enabling patch \'p\'',
      '[    1.250000] p: loading out-of-tree module taints kernel.',
      '[    1.260000] other: unrelated',
      '[    1.300000] klp-guest: out modprobe: ERROR: could not insert \'p\': Invalid argument',
      '[    1.400000] klp-guest: rc 1',
      '[    1.500000] klp-guest: lsmod a b',
      '[    1.600000] klp-guest: end one',
      '[    1.700000] livepatch: outside any case',
      '[    1.800000] klp-guest: problem: a transition did not end',
    ].join('\n');
    const r = parseGuestReport(dmesg, (l) => l.startsWith('livepatch: ') || l.startsWith('p: '));
    expect([...r.cases.keys()]).toEqual(['one']);
    expect(r.cases.get('one')).toEqual([
      { kind: 'cmd', text: 'modprobe p' },
      { kind: 'kernel', text: "livepatch: enabling patch 'p'" },
      { kind: 'out', text: "modprobe: ERROR: could not insert 'p': Invalid argument" },
      { kind: 'rc', status: 1 },
      { kind: 'guest', text: 'lsmod a b' },
    ]);
    expect(r.problems).toEqual(['a transition did not end']);
    expect(r.left).toEqual(new Map());
  });

  it("reads what a case's cleanup left, the guest's lines outside cases, and a case's transcript", () => {
    const dmesg = [
      'klp-guest: kallsyms-digest 0123abcd 94266',
      'klp-guest: case pinned',
      'klp-guest: % insmod /lib/modules/6.1.192-klp-split/extra/a__b.ko',
      'klp-guest: out insmod: ERROR: could not insert module /lib/modules/6.1.192-klp-split/extra/a__b.ko: Unknown symbol in module',
      'klp-guest: rc 1',
      'klp-guest: end pinned',
      'livepatch: a cleanup line, no case\'s',
      'klp-guest: left pinned a a__b ',
      'klp-guest: case clean',
      'klp-guest: end clean',
    ].join('\n');
    const r = parseGuestReport(dmesg, () => true);
    expect(r.outside).toEqual(['kallsyms-digest 0123abcd 94266']);
    expect(r.left).toEqual(new Map([['pinned', ['a', 'a__b']]]));
    expect(r.cases.get('clean')).toEqual([]);
    expect(caseTranscript(r.cases.get('pinned')!)).toEqual({
      lines: ['% insmod /lib/modules/6.1.192-klp-split/extra/a__b.ko', 'insmod: ERROR: could not insert module a__b: Unknown symbol in module'],
      status: [1],
    });
  });

  it("words the tools' output as the simulator does", () => {
    expect(commandOutput('bash: line 1: echo: write error: Invalid argument')).toBe('echo: write error: Invalid argument');
    expect(commandOutput('insmod: ERROR: could not insert module /lib/modules/6.1.192-klp-split/extra/klpd-fix__klpd-counter.ko: Unknown symbol in module')).toBe(
      'insmod: ERROR: could not insert module klpd_fix__klpd_counter: Unknown symbol in module',
    );
    expect(commandOutput('modprobe: FATAL: Module x not found in directory /lib/modules/6.1.0-57-amd64')).toBe('modprobe: FATAL: Module x not found in directory /lib/modules');
  });

  it("compares callback calls, the loader's lines and sysfs readings, and sets the modules' own output aside", () => {
    const sim = comparable(
      [
        '% modprobe d',
        '[request_module] d__m',
        "[callback] d: pre_patch pre_patch_callback() for object 'vmlinux'",
        "[callback] d: pre_patch other_pre_patch() for object 'vmlinux'",
        '[sysfs] /sys/kernel/livepatch/d/enabled: -rw-r--r-- 1',
        'd__m: Unknown symbol d_verbose (err -2)',
      ],
      ['d', 'd__m'],
    );
    expect(sim).toEqual({ lines: ['% modprobe d', 'd: pre_patch_callback: vmlinux', 'sysfs /sys/kernel/livepatch/d/enabled: -rw-r--r-- 1', 'd__m: Unknown symbol d_verbose (err -2)'], ignored: [] });
    const real = comparable(['% modprobe d', 'd: pre_patch_callback: vmlinux', 'd: counted 3 ticks', 'sysfs /sys/kernel/livepatch/d/enabled: -rw-r--r-- 1'], ['d']);
    expect(real.ignored).toEqual(['d: counted 3 ticks']);
  });

  it('aligns two transcripts and marks the lines only one side printed', () => {
    const rows = align(['a', 'b', 'c'], ['a', 'x', 'c']);
    expect(rows).toEqual([{ left: 'a', right: 'a' }, { left: 'b' }, { right: 'x' }, { left: 'c', right: 'c' }]);
    const text = sideBySide(rows, 'simulator', 'real', 4);
    expect(text.slice(2)).toEqual(['  a    | a', '< b    |', '>      | x', '  c    | c']);
  });

  it('says precisely that the split kernel needs the project when its scripts are not there', () => {
    expect(() => harnessEnv('split', undefined)).toThrow(GuestSetupError);
    expect(() => harnessEnv('split', undefined)).toThrow(/scripts\/split-kernel\.sh from its kernel\/patches, and neither is part of this installation/);
    expect(projectScripts('/nonexistent/node_modules/@klp-split/nx/scripts')).toBeUndefined();
    // In this checkout they are there.
    expect(harnessEnv('split', projectScripts())).toMatchObject({ KLP_QEMU_KERNEL: 'split' });
  });
});
