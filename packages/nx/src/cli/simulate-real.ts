import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readInputText, type KernelKind } from '@klp-split/core';
import type { Step } from '@klp-split/runtime-sim';
import { align, comparable, sideBySide, type Row } from '../real-kernel/compare.js';
import { commandOutput, DONE_MARKER, parseGuestReport } from '../real-kernel/guest-report.js';
import { GuestSetupError, runGuest, STEPS_SCRIPT } from '../real-kernel/guest-run.js';
import { UsageError } from './exit-codes.js';

/** What the guest's steps.sh runs; the other directives steer only the simulator. */
const REAL_KINDS = new Set<Step['kind']>(['modprobe', 'insmod', 'rmmod', 'enable', 'disable', 'callback', 'lsmod', 'sysfs', 'ftrace-enabled']);

/** Refuses a scenario the real kernel cannot run as written (a directive only the simulator knows). */
export function checkRealScenario(steps: Step[], file: string): void {
  const bad = steps.filter((s) => !REAL_KINDS.has(s.kind) || s.race || s.start);
  if (bad.length) {
    throw new UsageError(
      `simulate --real-kernel: ${file}: line ${bad.map((s) => s.line).join(', ')}: only the simulator can run this (the real kernel runs modprobe, insmod, rmmod, echo 0|1 > .../enabled, @callback, @lsmod, @sysfs and @set_ftrace_enabled)`,
    );
  }
}

interface RealComparison {
  kernel: KernelKind;
  release: string;
  simulated: string[];
  real: string[];
  rows: Row[];
  agree: boolean;
  /** Lines only the simulator printed, and only the kernel. */
  onlySimulated: number;
  onlyReal: number;
  /** The modules' own output on the real kernel (their printk), which the simulator does not run. */
  notCompared: string[];
  /** The qemu run, boot included. */
  ms: number;
}

/**
 * Runs the scenario file on the real kernel (one qemu boot; the modules
 * installed and indexed with depmod; only the file reaches the guest) and
 * compares the kernel's transcript with the simulator's.
 */
export async function compareOnRealKernel(kind: KernelKind, kos: string[], modules: string[], scenarioFile: string, simulated: string[]): Promise<RealComparison> {
  const text = readInputText(scenarioFile, 'scenario', { what: 'scenario' });
  const work = mkdtempSync(join(tmpdir(), 'klp-split-real-'));
  try {
    const scenario = join(work, 'scenario');
    writeFileSync(scenario, `@case scenario\n${text}\n@end scenario\n`);
    const r = await runGuest({ kernel: kind, kos, script: STEPS_SCRIPT, files: { scenario }, workDir: work });
    if (r.exitCode !== 0 || !r.dmesg || !r.output.includes(DONE_MARKER)) {
      const tail = `${r.output}\n${r.stderr}`.trim().split('\n').slice(-20).join('\n');
      throw new GuestSetupError(`simulate --real-kernel ${kind}: the qemu run did not finish (qemu-kernel.sh exit ${r.exitCode}):\n${tail}`);
    }
    const report = parseGuestReport(r.dmesg, (line) => line.startsWith('livepatch: ') || modules.some((m) => line.startsWith(`${m}: `)));
    if (report.problems.length) throw new GuestSetupError(`simulate --real-kernel ${kind}: the guest's run cannot be trusted: ${report.problems.join('; ')}`);
    const lines = (report.cases.get('scenario') ?? []).flatMap((l) => {
      if (l.kind === 'cmd') return [`% ${l.text}`];
      if (l.kind === 'out') return [commandOutput(l.text)];
      if (l.kind === 'rc') return [];
      return [l.text];
    });
    const sim = comparable(simulated, modules).lines;
    const { lines: real, ignored } = comparable(lines, modules);
    const rows = align(sim, real);
    const onlySimulated = rows.filter((x) => x.right === undefined).length;
    const onlyReal = rows.filter((x) => x.left === undefined).length;
    return { kernel: kind, release: r.release, simulated: sim, real, rows, agree: !onlySimulated && !onlyReal, onlySimulated, onlyReal, notCompared: ignored, ms: r.ms };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The comparison for people: both transcripts side by side and the verdict. */
export function formatComparison(c: RealComparison): string[] {
  const out = sideBySide(c.rows, 'simulator', `real kernel (${c.kernel}: ${c.release})`);
  if (c.notCompared.length) out.push(`not compared: ${c.notCompared.length} line(s) of the modules' own output on the real kernel (the simulator does not run module code):`, ...c.notCompared.map((l) => `  ${l}`));
  out.push(
    c.agree
      ? `agree: ${c.rows.length} lines (qemu run ${(c.ms / 1000).toFixed(1)} s)`
      : `DIFFER: ${c.onlySimulated} line(s) only in the simulator (<), ${c.onlyReal} only on the real kernel (>) (qemu run ${(c.ms / 1000).toFixed(1)} s)`,
  );
  return out;
}
