import { caseTranscript, type GuestLine } from '../../packages/nx/src/real-kernel/guest-report.js';
import type { BatchResult } from '../real/batch.js';

/**
 * A real-kernel batch's cases (test/real/batch.ts) as the differential
 * suites compare them with the simulator: each case's commands, their
 * output and status, and of the kernel's lines those of the livepatch core,
 * of the x86 module loader (pr_fmt "module: ") and of the case's modules.
 */

export interface RealCase {
  id: string;
  /** Lines of the guest language (packages/nx/scripts/guest/steps.sh). */
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
  /** The guest's problems, and modules a case left loaded: the run cannot be trusted then. */
  problems: string[];
  /** The qemu run, boot included (the boot the batch shared). */
  ms: number;
  /** When the run was made, when it is a kept one (test/real/run-cache.ts). */
  reusedFrom?: string;
}

/** A case's kernel lines cut to those `keep` says, its guest lines as they are. */
export function keptLines(lines: GuestLine[], keep: (kernelLine: string) => boolean): GuestLine[] {
  return lines.filter((l) => l.kind !== 'kernel' || keep(l.text));
}

/** The lines of the livepatch core, of the x86 loader about modules, and of the given modules. */
export const livepatchLines =
  (modules: string[]) =>
  (line: string): boolean =>
    line.startsWith('livepatch: ') || line.startsWith('module: x86/modules: ') || modules.some((n) => line.startsWith(`${n}: `));

/** The batch's cases as transcripts of the lines livepatchLines() keeps; `modules` names each case's modules. */
export function realRun(result: BatchResult, modules: (caseId: string) => string[]): RealRun {
  const results = new Map<string, RealCaseResult>();
  for (const [id, lines] of result.cases) {
    const t = caseTranscript(keptLines(lines, livepatchLines(modules(id))));
    results.set(id, { transcript: t.lines, status: t.status });
  }
  const left = [...result.left].map(([id, mods]) => `case ${id} left loaded: ${mods.join(' ')}`);
  return { results, problems: [...result.problems, ...left], ms: result.ms, reusedFrom: result.reusedFrom };
}

/** A case's commands, each with its output lines and exit status (the kernel's and the guest's other lines left out). */
export function caseCommands(lines: GuestLine[]): { cmd: string; out: string[]; rc: number }[] {
  const out: { cmd: string; out: string[]; rc: number }[] = [];
  for (const l of lines) {
    if (l.kind === 'cmd') out.push({ cmd: l.text, out: [], rc: -1 });
    else if (l.kind === 'out') out.at(-1)?.out.push(l.text);
    else if (l.kind === 'rc' && out.length) out.at(-1)!.rc = l.status;
  }
  return out;
}

/** The kernel's lines of a batch's cases (of every case, or of one), in order, as one log. */
export function kernelLog(result: BatchResult, caseId?: string): string {
  const cases = caseId === undefined ? [...result.cases.values()] : [result.cases.get(caseId) ?? []];
  return cases.flatMap((lines) => lines.flatMap((l) => (l.kind === 'kernel' ? [l.text] : []))).join('\n');
}
