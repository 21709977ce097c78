import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/env.js';
import { runOnSplitKernel, type SplitKernel } from '../helpers/split-kernel.js';

/**
 * Runs scenario-language cases on the real split kernel in one boot: the
 * cases go to the guest as /klp-split-faults/cases, which
 * test/differential/split-faults-guest.sh runs (runOnSplitKernel() of
 * test/helpers/split-kernel.ts installs the modules and boots).
 */

export interface SplitRealCase {
  id: string;
  steps: string[];
}

export interface SplitRealResult {
  /** Commands as `% ...`, tool errors, and the kernel's lines of livepatch and of the modules, in kernel-log order. */
  transcript: string[];
  /** Each command's exit status. */
  status: number[];
  /** The modules loaded when the case's steps were done. */
  lsmod: string[];
  /** The modules cleaning up could not remove (pinned for good). */
  left: string[];
}

export interface SplitRealRun {
  results: Map<string, SplitRealResult>;
  problems: string[];
  ms: number;
}

export const SPLIT_FAULTS_GUEST = join(ROOT, 'test/differential/split-faults-guest.sh');

/** The cases file the guest reads: `case <id>`, one step a line, `end`. */
export function casesFile(cases: SplitRealCase[]): string {
  return cases.flatMap((c) => [`case ${c.id}`, ...c.steps, 'end']).join('\n') + '\n';
}

/** A guest case's lines as a transcript in the simulator's words (tool errors without bash's "line N:"). */
export function splitRealResult(lines: string[]): SplitRealResult {
  const result: SplitRealResult = { transcript: [], status: [], lsmod: [], left: [] };
  let cleaning = false;
  for (const l of lines) {
    if (l === 'cleanup') cleaning = true;
    if (l.startsWith('left')) result.left = l.slice('left'.length).trim().split(/\s+/).filter(Boolean);
    if (cleaning || l.startsWith('problem: ')) continue;
    if (l.startsWith('rc ')) result.status.push(Number(l.slice(3)));
    else if (l.startsWith('lsmod')) result.lsmod = l.slice('lsmod'.length).trim().split(/\s+/).filter(Boolean);
    else if (l.startsWith('out ')) result.transcript.push(l.slice(4).replace(/^bash: (line \d+: )?/, '').replace(/^(insmod: ERROR: could not insert module \w+)\.ko:/, '$1:'));
    else result.transcript.push(l);
  }
  return result;
}

export async function runSplitCases(kernel: SplitKernel, kos: string[], cases: SplitRealCase[], workDir: string, modulePrefix: string): Promise<SplitRealRun> {
  const dir = join(workDir, 'root/klp-split-faults');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cases'), casesFile(cases));
  const run = await runOnSplitKernel(kernel, kos, SPLIT_FAULTS_GUEST, workDir, modulePrefix);
  const results = new Map([...run.cases].map(([id, lines]) => [id, splitRealResult(lines)]));
  return { results, problems: run.problems, ms: run.ms };
}
