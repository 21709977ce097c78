import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultKallsymsFile } from '@klp-split/kernel-facts';
import { beforeAll, describe, expect, it } from 'vitest';
import { klpSplit, ROOT } from '../helpers/env.js';
import { kernelLog } from '../helpers/real-kernel.js';
import { comparableLines, selftestExpectations } from '../helpers/selftests.js';
import { SCRIPT_TIMEOUT_S, selftestModules, selftestReport, selftestsBatch, selftestScripts, type SelftestScript } from '../real/batches/real-selftests.js';
import { realBatch } from '../real/result.js';
import { qemuRun } from '../real/run-cache.js';

/**
 * The kernel's own livepatch selftests of 6.1, unmodified, on the real
 * kernel: the lib/livepatch test modules built against Debian's headers with
 * their own Makefile, Debian's kernel of the same release booted under qemu
 * (the run's one boot of it, these scripts first: test/real/batches/real-selftests.ts)
 * and every selftest script run there with bash and kmod. Nothing is
 * simulated or mocked.
 */

/** The scripts that must pass (test-ftrace.sh runs too, as TEST_PROGS lists it). */
const REQUIRED = ['test-livepatch.sh', 'test-callbacks.sh', 'test-shadow-vars.sh', 'test-state.sh', 'test-sysfs.sh'];

interface Report {
  release: string;
  modulesDir: string;
  /** sha256 and count of the "type name" columns of /proc/kallsyms, read before anything loaded. */
  kallsyms: { sha256: string; lines: number } | null;
  scripts: SelftestScript[];
  /** The kernel's lines of the scripts' runs. */
  dmesg: string;
}

/** The kernel log of one selftest script, split at start_test()'s "===== TEST: <name> =====" lines. */
function kernelLogByTest(dmesg: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of dmesg.split('\n')) {
    const m = /^===== TEST: (.*) =====$/.exec(line);
    if (m) {
      current = [];
      out.set(m[1]!, current);
    } else current?.push(line);
  }
  return out;
}

/** Whether `lines` occur in `block` in the same order (not necessarily adjacent). */
function inOrder(lines: string[], block: string[]): boolean {
  let i = 0;
  for (const l of block) if (i < lines.length && l === lines[i]) i++;
  return i === lines.length;
}

/** The ported scenarios of every selftest script (test/golden): the script and the scenario file. */
function portedScenarios(): { script: string; file: string }[] {
  const cases: { script: string; file: string }[] = [];
  for (const script of selftestScripts()) {
    const dir = script === 'test-callbacks.sh' ? join(ROOT, 'test/golden/split-callbacks') : join(ROOT, 'test/golden/upstream', script.replace(/\.sh$/, ''));
    if (existsSync(dir)) for (const f of readdirSync(dir).filter((x) => x.endsWith('.scenario')).sort()) cases.push({ script, file: join(dir, f) });
  }
  return cases;
}

describe('the kernel livepatch selftests of 6.1 on the real kernel (qemu)', () => {
  let report: Report;
  let callbacksLog: string;
  /** The simulator's comparable lines for each ported scenario, on the .ko files the guest loads. */
  const simulated = new Map<string, string[]>();
  let selftestModulesDir: string;

  beforeAll(async () => {
    const result = realBatch(selftestsBatch);
    // The simulator side meanwhile, two at a time, on the same .ko files (the shared fixture).
    const { dir, modules } = await selftestModules();
    selftestModulesDir = dir;
    const args = modules.flatMap((m) => ['--module', join(dir, `${m}.ko`)]);
    const queue = portedScenarios();
    const worker = async (): Promise<void> => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const sim = await klpSplit(['simulate', '--upstream', ...args, '--scenario', c.file, '--json']);
        simulated.set(c.file, sim.code === 0 ? comparableLines(JSON.parse(sim.stdout).transcript) : [sim.stderr]);
      }
    };
    await Promise.all([worker(), worker()]);
    const r = await result;
    expect(r.problems).toEqual([]);
    const digest = r.cases.get('kallsyms')?.find((l) => l.kind === 'guest' && l.text.startsWith('kallsyms-digest '));
    const [, sha256, lines] = digest?.kind === 'guest' ? digest.text.split(' ') : [];
    report = {
      release: r.release,
      modulesDir: r.data.modulesDir,
      kallsyms: sha256 ? { sha256, lines: Number(lines) } : null,
      scripts: selftestReport(r),
      dmesg: kernelLog(r),
    };
    callbacksLog = kernelLog(r, 'test-callbacks.sh');
    for (const s of report.scripts) console.log(`${s.script}: exit ${s.exit}, ${s.tests.filter((t) => t.ok).length}/${s.tests.length} tests ok`);
    console.log(`real-kernel selftests on ${report.release}: ${qemuRun(r)}, shared with ${r.boot.join(', ')}`);
  }, 60 * 60_000);

  it('booted the release the headers belong to', () => {
    expect(report.release).toMatch(/^6\.1\.\d+-\d+-amd64$/);
    expect(report.dmesg).toContain('===== TEST: basic function patching =====');
  });

  it("booted the symbol table the simulator uses: the kallsyms dump's names and types", () => {
    const dump = defaultKallsymsFile(report.release);
    expect(dump, 'no cached kallsyms dump').toBeDefined();
    const lines = readFileSync(dump!, 'utf8').split('\n').filter(Boolean);
    const typesAndNames = lines.map((l) => l.split(/\s+/).slice(1, 3).join(' ')).join('\n') + '\n';
    expect(report.kallsyms).toEqual({ sha256: createHash('sha256').update(typesAndNames).digest('hex'), lines: lines.length });
  });

  it.each(REQUIRED)('%s exits 0 with every test ok', (script) => {
    const s = report.scripts.find((x) => x.script === script);
    expect(s, `${script} did not run`).toBeDefined();
    const failed = s!.tests.filter((t) => !t.ok).map((t) => t.name);
    const why = s!.timedOut ? ` (killed after the guest's ${SCRIPT_TIMEOUT_S} s limit)` : '';
    expect({ exit: s!.exit, failed }, `${script}${why} output:\n${s!.output}`).toEqual({ exit: 0, failed: [] });
    expect(s!.tests.length, `${script} reported no TEST: lines:\n${s!.output}`).toBeGreaterThan(0);
  });

  it('every other script the selftests Makefile lists passes as well', () => {
    const bad = report.scripts.filter((s) => s.exit !== 0 || s.tests.some((t) => !t.ok));
    expect(bad.map((s) => `${s.script} (exit ${s.exit})\n${s.output}`)).toEqual([]);
  });

  it("test-callbacks.sh: each test's livepatch lines in the kernel log appear in order in its check_result block", () => {
    const expected = selftestExpectations('test-callbacks.sh', {
      MOD_LIVEPATCH: 'test_klp_callbacks_demo',
      MOD_LIVEPATCH2: 'test_klp_callbacks_demo2',
      MOD_TARGET: 'test_klp_callbacks_mod',
      MOD_TARGET_BUSY: 'test_klp_callbacks_busy',
    });
    const logs = kernelLogByTest(callbacksLog);
    expect([...logs.keys()]).toEqual([...expected.keys()]);
    for (const [name, block] of expected) {
      const actual = logs.get(name)!.filter((l) => l.startsWith('livepatch: '));
      expect(actual.length, `no livepatch: lines in the kernel log of "${name}"`).toBeGreaterThan(0);
      expect(inOrder(actual, block), `"${name}": kernel log\n${actual.join('\n')}\nnot in order in\n${block.join('\n')}`).toBe(true);
      // The selftest compares the whole filtered log; the livepatch lines alone match exactly, too.
      expect(actual, name).toEqual(block.filter((l) => l.startsWith('livepatch: ')));
    }
  });

  it("the simulator's upstream mode prints what the real kernel printed, for every selftest case, on the same .ko files", () => {
    expect(report.modulesDir).toBe(selftestModulesDir);
    const cases = portedScenarios();
    const disagree: string[] = [];
    for (const c of cases) {
      const name = new RegExp(`^# ${c.script.replace('.', '\\.')}: (.*)$`, 'm').exec(readFileSync(c.file, 'utf8'))![1]!;
      const real = report.scripts.find((s) => s.script === c.script)!.tests.find((t) => t.name === name);
      const simLines = simulated.get(c.file)!;
      const realLines = comparableLines(real?.log ?? []);
      if (!real || JSON.stringify(simLines) !== JSON.stringify(realLines)) {
        disagree.push(`${c.script}: ${name}\n  real:      ${realLines.join('\n             ')}\n  simulated: ${simLines.join('\n             ')}`);
      }
    }
    const tests = report.scripts.filter((s) => REQUIRED.includes(s.script) || s.script === 'test-ftrace.sh').reduce((n, s) => n + s.tests.length, 0);
    console.log(`selftest cases: ${cases.length - disagree.length}/${cases.length} agree between the real kernel and the simulator (${tests} tests ran on the real kernel)`);
    expect(cases.length).toBe(tests);
    expect(disagree).toEqual([]);
  });
});
