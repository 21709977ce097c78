import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { defaultKallsymsFile } from '@klp-split/kernel-facts';
import { beforeAll, describe, expect, it } from 'vitest';
import { klpSplit, ROOT } from '../helpers/env.js';
import { comparableLines, selftestExpectations } from '../helpers/selftests.js';

/**
 * The kernel's own livepatch selftests of 6.1, unmodified, on the real
 * kernel: scripts/real-selftests.sh builds the lib/livepatch test modules
 * against Debian's headers, boots Debian's kernel of the same release under
 * qemu once and runs every selftest script there with bash and kmod.
 * Nothing is simulated or mocked.
 */

interface SelftestTest {
  name: string;
  ok: boolean;
  log: string[];
}
interface SelftestScript {
  script: string;
  exit: number | null;
  timedOut: boolean;
  durationMs: number | null;
  tests: SelftestTest[];
  output: string;
}
interface Report {
  release: string;
  durationMs: number;
  bootMs: number;
  modulesCache: string;
  modulesDir: string;
  kallsyms: { sha256: string; lines: number } | null;
  scriptTimeoutS: number;
  scripts: SelftestScript[];
  dmesg: string;
}

/** The scripts that must pass (test-ftrace.sh runs too, as TEST_PROGS lists it). */
const REQUIRED = ['test-livepatch.sh', 'test-callbacks.sh', 'test-shadow-vars.sh', 'test-state.sh', 'test-sysfs.sh'];

/** Hard limits: qemu ends itself after QEMU_LIMIT_S; execa kills the script after RUN_LIMIT_MS. */
const QEMU_LIMIT_S = 720;
const RUN_LIMIT_MS = 14 * 60_000;

/** The kernel log of one selftest script, split at start_test()'s "===== TEST: <name> =====" lines; timestamps removed. */
function kernelLogByTest(dmesg: string, script: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let inScript = false;
  let current: string[] | undefined;
  for (const raw of dmesg.split('\n')) {
    const line = raw.replace(/^\[[ 0-9.]*\] /, '');
    if (line === `klp-selftests: begin ${script}`) inScript = true;
    else if (line.startsWith('klp-selftests: end ')) inScript = false;
    if (!inScript) continue;
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

describe('the kernel livepatch selftests of 6.1 on the real kernel (qemu)', () => {
  let report: Report;

  beforeAll(async () => {
    const r = await execa('bash', ['scripts/real-selftests.sh'], {
      cwd: ROOT,
      reject: false,
      timeout: RUN_LIMIT_MS,
      forceKillAfterDelay: 5_000,
      env: { KLP_REAL_SELFTESTS_TIMEOUT: String(QEMU_LIMIT_S) },
    });
    // 0: all passed, 1: some selftest failed (the JSON says which); else no report.
    if (r.timedOut) throw new Error(`scripts/real-selftests.sh was killed after ${RUN_LIMIT_MS / 60_000} min:\n${r.stderr}`);
    if (r.exitCode !== 0 && r.exitCode !== 1) {
      throw new Error(`scripts/real-selftests.sh failed with exit status ${r.exitCode}:\n${r.stderr}`);
    }
    try {
      report = JSON.parse(String(r.stdout)) as Report;
    } catch (e) {
      throw new Error(`scripts/real-selftests.sh printed no JSON report (${(e as Error).message}):\n${String(r.stdout).slice(0, 2000)}\n${r.stderr}`);
    }
    for (const s of report.scripts) {
      const ok = s.tests.filter((t) => t.ok).length;
      console.log(`${s.script}: exit ${s.exit}, ${ok}/${s.tests.length} tests ok, ${((s.durationMs ?? 0) / 1000).toFixed(1)} s`);
    }
    console.log(
      `real-kernel selftests on ${report.release}: ${(report.durationMs / 1000).toFixed(1)} s in all ` +
        `(qemu run ${(report.bootMs / 1000).toFixed(1)} s, test modules ${report.modulesCache === 'hit' ? 'cached' : 'built'})`,
    );
  }, 15 * 60_000);

  it('booted the release the headers belong to', () => {
    expect(report.release).toMatch(/^6\.1\.\d+-\d+-amd64$/);
    expect(report.dmesg).toContain('klp-selftests: begin test-livepatch.sh');
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
    const why = s!.timedOut ? ` (killed after the guest's ${report.scriptTimeoutS} s limit)` : '';
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
    const logs = kernelLogByTest(report.dmesg, 'test-callbacks.sh');
    expect([...logs.keys()]).toEqual([...expected.keys()]);
    for (const [name, block] of expected) {
      const actual = logs.get(name)!.filter((l) => l.startsWith('livepatch: '));
      expect(actual.length, `no livepatch: lines in the kernel log of "${name}"`).toBeGreaterThan(0);
      expect(inOrder(actual, block), `"${name}": kernel log\n${actual.join('\n')}\nnot in order in\n${block.join('\n')}`).toBe(true);
      // The selftest compares the whole filtered log; the livepatch lines alone match exactly, too.
      expect(actual, name).toEqual(block.filter((l) => l.startsWith('livepatch: ')));
    }
  });

  it("the simulator's upstream mode prints what the real kernel printed, for every selftest case, on the same .ko files", async () => {
    const modules = readdirSync(report.modulesDir).filter((f) => f.endsWith('.ko')).flatMap((f) => ['--module', join(report.modulesDir, f)]);
    const cases: { script: string; file: string }[] = [];
    for (const s of report.scripts) {
      const dir = s.script === 'test-callbacks.sh' ? join(ROOT, 'test/golden/split-callbacks') : join(ROOT, 'test/golden/upstream', s.script.replace(/\.sh$/, ''));
      if (existsSync(dir)) for (const f of readdirSync(dir).filter((x) => x.endsWith('.scenario')).sort()) cases.push({ script: s.script, file: join(dir, f) });
    }
    const disagree: string[] = [];
    for (const c of cases) {
      const name = new RegExp(`^# ${c.script.replace('.', '\\.')}: (.*)$`, 'm').exec(readFileSync(c.file, 'utf8'))![1]!;
      const real = report.scripts.find((s) => s.script === c.script)!.tests.find((t) => t.name === name);
      const sim = await klpSplit(['simulate', '--upstream', ...modules, '--scenario', c.file, '--json']);
      const simLines = sim.code === 0 ? comparableLines(JSON.parse(sim.stdout).transcript) : [sim.stderr];
      const realLines = comparableLines(real?.log ?? []);
      if (!real || JSON.stringify(simLines) !== JSON.stringify(realLines)) {
        disagree.push(`${c.script}: ${name}\n  real:      ${realLines.join('\n             ')}\n  simulated: ${simLines.join('\n             ')}`);
      }
    }
    const tests = report.scripts.filter((s) => REQUIRED.includes(s.script) || s.script === 'test-ftrace.sh').reduce((n, s) => n + s.tests.length, 0);
    console.log(`selftest cases: ${cases.length - disagree.length}/${cases.length} agree between the real kernel and the simulator (${tests} tests ran on the real kernel)`);
    expect(cases.length).toBe(tests);
    expect(disagree).toEqual([]);
  }, 5 * 60_000);
});
