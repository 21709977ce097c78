import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { kernelSourceTree } from '@klp-split/kernel-facts';
import { beforeAll, describe, expect, it } from 'vitest';
import { CREATE_FIXTURES, moduleOfFixture } from '../helpers/create-fixtures.js';
import { corpus } from '../helpers/env.js';
import { kernelLog } from '../helpers/real-kernel.js';
import { createChecks, makeFailures, createRealBatch, POSITIVE, stockFixes, type MadeFix } from '../real/batches/create-real.js';
import { realBatch } from '../real/result.js';

/**
 * Issue 23 on the real kernel: each fix of test/fixtures/create/ goes through
 * `klp-split create` and `klp-split build` (Debian's 6.1 headers; a shared
 * fixture), then each is a case on Debian's 6.1 under qemu (the run's one
 * boot of it; the cases are test/real/batches/create-real.ts), with Debian's
 * own zram, zsmalloc and binfmt_misc modules as targets, and a user-space
 * check in the guest shows each fix and its undoing.
 */
let made: Map<string, MadeFix>;
/** A check's output lines and `rc=<status>`, by fix and label. */
let out: (fix: string, check: string) => string[];
let dmesg: string;

beforeAll(async () => {
  const result = realBatch(createRealBatch);
  made = await stockFixes();
  expect(makeFailures(made, POSITIVE)).toEqual([]);
  const r = await result;
  expect(r.problems).toEqual([]);
  expect(r.left).toEqual(new Map());
  out = createChecks(r);
  dmesg = kernelLog(r);
}, 60 * 60_000);

describe('create -> build -> Debian 6.1 under qemu', () => {
  it('every livepatch loads, finishes its transition, disables and unloads', () => {
    for (const f of POSITIVE) {
      expect(out(f, 'load'), f).toEqual(['rc=0']);
      expect(out(f, 'disable'), f).toEqual(['rc=0']);
      expect(out(f, 'rmmod'), f).toEqual(['rc=0']);
      expect(dmesg).toContain(`livepatch: '${moduleOfFixture(f)}': patching complete`);
    }
  });

  it('each livepatch passes checkpatch.pl but for lines it copied as they are from the kernel or the fix', async () => {
    const checkpatch = join(corpus(), 'scripts/checkpatch.pl');
    for (const f of POSITIVE) {
      const c = made.get(f)!.fix;
      const patch = readFileSync(join(CREATE_FIXTURES, f, 'fix.patch'), 'utf8');
      const fixed = new Set([...patch.matchAll(/^\+\+\+ b\/(\S+)$/gm)].flatMap((m) => readFileSync(join(kernelSourceTree(), m[1]!), 'utf8').split('\n')));
      for (const l of patch.split('\n')) if (l.startsWith('+') && !l.startsWith('+++')) fixed.add(l.slice(1));
      const cp = await execa('perl', [checkpatch, '--no-tree', '--no-summary-file', '--file', join(c.dir, `${c.module}.c`)], { reject: false });
      const errors = [...cp.stdout.matchAll(/^ERROR: (.*)\n#\d+: FILE: .*\n\+(.*)$/gm)];
      for (const [, what, text] of errors) expect(fixed.has(text!), `${f}: ${what}: ${text}`).toBe(true);
      expect(cp.stdout, f).toMatch(/^total: \d+ errors, \d+ warnings, \d+ lines checked$/m);
    }
  });

  it('a changed string in a vmlinux function behind /proc/cmdline', () => {
    expect(out('cmdline-string', 'before')[0]).not.toMatch(/klp_cmdline_fixed/);
    expect(out('cmdline-string', 'after')[0]).toMatch(/ klp_cmdline_fixed$/);
    expect(out('cmdline-string', 'undone')[0]).toBe(out('cmdline-string', 'before')[0]);
  });

  it("a change in Debian's zram.ko: debug_stat reports version 2, and 1 again after", () => {
    expect(out('zram-debug-stat', 'before')[0]).toBe('version: 1');
    expect(out('zram-debug-stat', 'after')[0]).toBe('version: 2');
    expect(out('zram-debug-stat', 'undone')[0]).toBe('version: 1');
    expect(made.get('zram-debug-stat')!.fix.json.objects.map((o) => o.object)).toEqual(['zram']);
  });

  it('one fix for vmlinux and two modules: /proc/loadavg, binfmt_misc status, zram io_stat', () => {
    expect(made.get('three-objects')!.fix.json.objects.map((o) => o.object)).toEqual(['vmlinux', 'zram', 'binfmt_misc']);
    expect(out('three-objects', 'loadavg')[0]).toMatch(/ klp$/);
    expect(out('three-objects', 'binfmt')[0]).toBe('enabled (klp)');
    expect(out('three-objects', 'zram')[0]).toMatch(/ klp$/);
    expect(out('three-objects', 'undone')[0]).toBe('enabled');
  });

  it('a new function', () => {
    expect(out('new-function', 'after')).toContain('klp_uptime_fixed');
  });

  it('a new global variable: the livepatch counts its reads', () => {
    const reads = (check: string) => out('new-global', check).filter((l) => l.startsWith('KlpReads'));
    expect(reads('first')).toEqual([expect.stringMatching(/^KlpReads:\s+1$/)]);
    expect(reads('second')).toEqual([expect.stringMatching(/^KlpReads:\s+2$/)]);
  });

  it('a changed static inline: its caller proc_pid_status is replaced', () => {
    expect(made.get('static-inline')!.fix.json.objects[0]!.functions).toEqual([expect.objectContaining({ oldName: 'proc_pid_status', reason: "inlines 'task_context_switch_counts'" })]);
    expect(out('static-inline', 'after').join('\n')).toMatch(/^klp_ctxt_switches:\t\d+$/m);
    expect(out('static-inline', 'undone').join('\n')).not.toMatch(/klp_ctxt_switches/);
  });

  it('a static function and a static variable through livepatch relocations', () => {
    expect(out('static-reloc', 'after')[1]).toMatch(/^klp_state [A-Z] \(\w+\)$/);
  });

  it('a syscall (KLP_SYSCALL_DEFINE1): uname -v', () => {
    expect(made.get('syscall')!.fix.json.objects[0]!.functions.map((f) => f.oldName)).toEqual(['__x64_sys_newuname', '__ia32_sys_newuname']);
    expect(out('syscall', 'after')[0]).toMatch(/ klp$/);
    expect(out('syscall', 'undone')[0]).toBe(out('syscall', 'before')[0]);
  });

  it("callbacks become the object's callbacks and run in the kernel's order", () => {
    expect(out('callbacks', 'after')).toContain('klp_version_live');
    expect(out('callbacks', 'undone')).not.toContain('klp_version_live');
    const order = dmesg.split('\n').flatMap((l) => /klp_version: (\w+)/.exec(l)?.[1] ?? []);
    expect(order).toEqual(['pre_patch', 'post_patch', 'pre_unpatch', 'post_unpatch']);
  });

  it('a shadow variable added to a task counts its reads, and goes with the patch', () => {
    expect(out('shadow', 'first')).toEqual([expect.stringMatching(/^[0-9a-f]{8}$/), 'klp_reads 1', 'rc=0']);
    expect(out('shadow', 'second')[1]).toBe('klp_reads 2');
    expect(out('shadow', 'undone')).toEqual([expect.stringMatching(/^[0-9a-f]{8}$/), 'rc=0']);
  });

  it("a static name with two symbols: khugepaged's pages_to_scan_show, not KSM's", () => {
    expect(made.get('sympos')!.fix.json.objects[0]!.functions).toEqual([expect.objectContaining({ oldName: 'pages_to_scan_show', sympos: 2 })]);
    expect(out('sympos', 'khugepaged')[0]).toMatch(/^\d+ klp$/);
    expect(out('sympos', 'ksm')[0]).toMatch(/^\d+$/);
  });

  it('a function inlined everywhere is replaced through its callers', () => {
    expect(made.get('inlined')!.fix.json.objects[0]!.functions.map((f) => f.oldName).sort()).toEqual(['__get_fs_type', 'register_filesystem']);
    expect(made.get('inlined')!.fix.json.diagnostics.find((d) => d.code === 'create-inlined')?.message).toMatch(/'find_filesystem' is not a symbol of vmlinux/);
    expect(out('inlined', 'before').at(-1)).not.toBe('rc=0');
    expect(out('inlined', 'after')).toEqual(['rc=0']);
    expect(out('inlined', 'mounted')[0]).toMatch(/^6\.1\./);
    expect(out('inlined', 'undone').at(-1)).not.toBe('rc=0');
  });

  it("a function the kernel only has as a clone (__set_oom_adj.isra.0) is replaced through its callers", () => {
    expect(made.get('clone')!.fix.json.objects[0]!.functions.map((f) => f.oldName).sort()).toEqual(['oom_adj_write', 'oom_score_adj_write']);
    expect(made.get('clone')!.fix.json.diagnostics.find((d) => d.code === 'create-clone-callers')?.message).toMatch(/only its clone __set_oom_adj\.isra\.0/);
    expect(out('clone', 'write-after')).toEqual(['rc=0']);
    expect(out('clone', 'after')).toEqual(['999', 'rc=0']);
    expect(out('clone', 'write-undone')).toEqual(['rc=0']);
    expect(out('clone', 'undone')).toEqual(['1000', 'rc=0']);
  });

  it("a static local stays the kernel's: 4 written through the livepatch silences the original", () => {
    expect(dmesg).toMatch(/drop_caches \(klp\): 1/);
    expect(dmesg).toMatch(/drop_caches \(klp\): 4/);
    expect(out('static-local', 'drop1-after')).toEqual(['rc=0']);
    expect(dmesg).not.toMatch(/\): drop_caches: 1$/m);
  });
});
