import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandOutput, DONE_MARKER, parseGuestReport } from '../../packages/nx/src/real-kernel/guest-report.js';
import { runGuest, STEPS_SCRIPT } from '../../packages/nx/src/real-kernel/guest-run.js';

/**
 * Runs scenario-language steps on the real kernel: Debian's kernel of the
 * headers' release booted under qemu by qemu-kernel.sh, with the given
 * modules installed under /lib/modules/<release>/extra and indexed by depmod.
 * One boot runs every case (the guest script is packages/nx/scripts/guest/steps.sh,
 * reading the cases as a file); between cases every patch is disabled and
 * every module removed.
 */

export interface RealCase {
  id: string;
  /** Scenario-language steps: modprobe, insmod, rmmod, echo 0|1 > .../enabled, @callback <patch> pre_patch=<n>, @lsmod. */
  steps: string[];
}

export interface RealCaseResult {
  /** Commands as `% ...`, tool errors and the kernel's lines about the case's modules, in kernel-log order. */
  transcript: string[];
  /** Each command's exit status. */
  status: number[];
}

export interface RealRun {
  results: Map<string, RealCaseResult>;
  /** Modules a case left loaded, or transitions that did not end: the run cannot be trusted then. */
  problems: string[];
  /** The qemu run, boot included. */
  ms: number;
}

/** The steps file the guest reads: each case's lines between '@case <id>' and '@end <id>'. */
export function stepsFile(cases: RealCase[]): string {
  for (const c of cases) {
    if (!/^\S+$/.test(c.id)) throw new Error(`a case id has no spaces: '${c.id}'`);
    const bad = c.steps.find((s) => s.includes('\n'));
    if (bad !== undefined) throw new Error(`a step is one line: '${bad}'`);
  }
  return cases.map((c) => [`@case ${c.id}`, ...c.steps, `@end ${c.id}`].join('\n')).join('\n') + '\n';
}

/**
 * A case's transcript as the simulator words it: commands, their output, and the lines of the livepatch core, of the
 * x86 module loader (pr_fmt "module: ", about the case's module being loaded) and of its modules.
 */
export function caseTranscripts(dmesg: string, modules: (caseId: string) => string[]): RealRun['results'] {
  const report = parseGuestReport(
    dmesg,
    (line, id) => line.startsWith('livepatch: ') || line.startsWith('module: x86/modules: ') || modules(id).some((n) => line.startsWith(`${n}: `)),
  );
  const results: RealRun['results'] = new Map();
  for (const [id, lines] of report.cases) {
    const r: RealCaseResult = { transcript: [], status: [] };
    for (const l of lines) {
      if (l.kind === 'cmd') r.transcript.push(`% ${l.text}`);
      else if (l.kind === 'rc') r.status.push(l.status);
      else if (l.kind === 'out') r.transcript.push(commandOutput(l.text));
      else r.transcript.push(l.text);
    }
    results.set(id, r);
  }
  return results;
}

/** Runs the cases in one boot; `kos` are the .ko files to install, `caseModules` the module names each case involves. */
export async function runOnRealKernel(kos: string[], cases: RealCase[], caseModules: Map<string, string[]>, workDir: string): Promise<RealRun> {
  mkdirSync(workDir, { recursive: true });
  const scenario = join(workDir, 'scenario');
  writeFileSync(scenario, stepsFile(cases));
  const r = await runGuest({ kernel: 'stock', kos, script: STEPS_SCRIPT, files: { scenario }, workDir, append: 'log_buf_len=8M', timeoutS: 840 });
  if (r.exitCode !== 0 || !r.dmesg || !r.output.includes(DONE_MARKER)) {
    throw new Error(`the real-kernel run failed (exit ${r.exitCode}):\n${r.output.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  }
  const problems = parseGuestReport(r.dmesg, () => false).problems;
  return { results: caseTranscripts(r.dmesg, (id) => caseModules.get(id) ?? []), problems, ms: r.ms };
}
