import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { guestDone, parseGuestReport, type GuestLine } from '../../packages/nx/src/real-kernel/guest-report.js';
import type { KernelKind } from '@klp-split/core';
import { STEPS_SCRIPT } from '../../packages/nx/src/real-kernel/guest-run.js';
import { keptGuestRun } from './run-cache.js';

/**
 * Real-kernel batches: what a suite runs on a real kernel under qemu, as
 * cases in the one guest language (packages/nx/scripts/guest/steps.sh). The
 * batches of every suite in a vitest run that use the same kernel share one
 * boot (test/real/global-setup.ts starts it when the run begins, beside the
 * other suites); a suite reads its batch's result (test/real/result.ts) and
 * asserts on it. Module names are unique across batches (one
 * /lib/modules/<release>/extra for all), case ids within one.
 */

export interface GuestCase {
  id: string;
  /** Lines of the guest language, one step each. */
  steps: string[];
}

export interface BatchInput<D = unknown> {
  /** Modules installed under /lib/modules/<release>/extra and indexed by depmod. */
  kos: string[];
  cases: GuestCase[];
  /** Data files for /work: name in the guest -> host file (a selftest script, ...). */
  files?: Record<string, string>;
  /** What the suite needs of the preparation (paths of the built modules, ...), as JSON. */
  data: D;
}

export interface RealBatch<D = unknown> {
  /** Lower case, digits and '-': the file names of its results. */
  name: string;
  kernel: KernelKind;
  /** The test file that asserts on the result (relative to the repository). */
  suite: string;
  /** The guest's time for the cases at most, in seconds: the shared boot's limit is the sum. */
  budgetS: number;
  /** Builds what the guest needs under `dir` (kept until the vitest run ends). */
  prepare(dir: string): Promise<BatchInput<D>>;
}

export interface BatchResult<D = unknown> {
  name: string;
  kernel: KernelKind;
  release: string;
  /** The qemu run of the boot this batch shared, boot included. */
  ms: number;
  /** When that run was made, when it is a kept one (test/real/run-cache.ts). */
  reusedFrom?: string;
  /** The batches of that boot, in order. */
  boot: string[];
  /** Each case's lines, every kernel line of the case kept. */
  cases: Map<string, GuestLine[]>;
  /** What a case's cleanup could not remove. */
  left: Map<string, string[]>;
  /** The guest's lines of this batch outside its cases. */
  outside: string[];
  /** The guest's problems anywhere in the boot: the run cannot be trusted. */
  problems: string[];
  data: D;
}

/** The result file of a batch in a run directory; `<name>.error` instead says why there is none. */
export const resultFile = (dir: string, name: string): string => join(dir, `${name}.json`);
export const errorFile = (dir: string, name: string): string => join(dir, `${name}.error`);

function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

interface Prepared {
  batch: RealBatch;
  input: BatchInput;
}

/** The modules of all batches, one file per name: the same file twice is one, two different files of one name refuse. */
function moduleSet(prepared: Prepared[]): string[] {
  const byName = new Map<string, { ko: string; hash: string; batch: string }>();
  for (const { batch, input } of prepared) {
    for (const ko of input.kos) {
      const hash = createHash('sha256').update(readFileSync(ko)).digest('hex');
      const seen = byName.get(basename(ko));
      if (seen && seen.hash !== hash) throw new Error(`batches ${seen.batch} and ${batch.name} both install a different ${basename(ko)}`);
      byName.set(basename(ko), { ko, hash, batch: batch.name });
    }
  }
  return [...byName.values()].map((m) => m.ko);
}

/**
 * Prepares the batches (all for one kernel), boots that kernel once with
 * every batch's modules and cases, and writes each batch's result (or why
 * there is none) into `runDir`. A batch whose preparation fails gets its
 * error; the others still run.
 */
export async function runBatches(kernel: KernelKind, batches: RealBatch[], runDir: string): Promise<{ reusedFrom?: string }> {
  // All at once: much of a build is waiting for make, and the boot waits for the last.
  const inputs = await Promise.all(
    batches.map(async (batch) => {
      try {
        const dir = join(runDir, batch.name);
        mkdirSync(dir, { recursive: true });
        return await batch.prepare(dir);
      } catch (e) {
        writeAtomic(errorFile(runDir, batch.name), `preparing the real-kernel batch '${batch.name}' failed: ${(e as Error).stack ?? e}`);
        return undefined;
      }
    }),
  );
  const prepared: Prepared[] = batches.flatMap((batch, i) => (inputs[i] ? [{ batch, input: inputs[i] }] : []));
  if (!prepared.length) return {};
  const fail = (why: string): void => {
    for (const { batch } of prepared) writeAtomic(errorFile(runDir, batch.name), why);
  };
  try {
    const files: Record<string, string> = {};
    for (const { batch, input } of prepared) {
      for (const [name, file] of Object.entries(input.files ?? {})) {
        if (files[name] && files[name] !== file) throw new Error(`batch ${batch.name}: another batch has a guest file named ${name}`);
        files[name] = file;
      }
    }
    const lines: string[] = [];
    for (const { batch, input } of prepared) {
      for (const c of input.cases) {
        const bad = c.steps.find((s) => s.includes('\n'));
        if (!/^\S+$/.test(c.id) || bad !== undefined) throw new Error(`batch ${batch.name}: case '${c.id}': an id has no spaces, a step is one line`);
        lines.push(`@case ${batch.name}/${c.id}`, ...c.steps, `@end ${batch.name}/${c.id}`);
      }
    }
    const work = join(runDir, `boot-${kernel}`);
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, 'scenario'), `${lines.join('\n')}\n`);
    const budget = 120 + prepared.reduce((s, p) => s + p.batch.budgetS, 0);
    const r = await keptGuestRun({ kernel, kos: moduleSet(prepared), script: STEPS_SCRIPT, files: { ...files, scenario: join(work, 'scenario') }, workDir: work, append: 'log_buf_len=32M', timeoutS: budget });
    if (r.exitCode !== 0 || !r.dmesg || !guestDone(r.output)) {
      fail(`the ${kernel} kernel's run of batches ${prepared.map((p) => p.batch.name).join(', ')} did not finish (qemu-kernel.sh exit ${r.exitCode}):\n${r.output.slice(-4000)}\n${r.stderr.slice(-4000)}`);
      return {};
    }
    const report = parseGuestReport(r.dmesg, () => true);
    for (const { batch, input } of prepared) {
      const mine = (id: string): string | undefined => (id.startsWith(`${batch.name}/`) ? id.slice(batch.name.length + 1) : undefined);
      const pick = <T>(m: Map<string, T>): Record<string, T> => Object.fromEntries([...m].flatMap(([id, v]) => (mine(id) === undefined ? [] : [[mine(id)!, v]])));
      const result = {
        name: batch.name,
        kernel,
        release: r.release,
        ms: r.ms,
        reusedFrom: r.reusedFrom,
        boot: prepared.map((p) => p.batch.name),
        cases: pick(report.cases),
        left: pick(report.left),
        outside: report.outside,
        problems: report.problems,
        data: input.data,
      };
      writeAtomic(resultFile(runDir, batch.name), JSON.stringify(result));
    }
    return { reusedFrom: r.reusedFrom };
  } catch (e) {
    fail(`the ${kernel} kernel's batches failed: ${(e as Error).stack ?? e}`);
    return {};
  }
}

/** A result file read back. */
export function readResult<D>(file: string): BatchResult<D> {
  const j = JSON.parse(readFileSync(file, 'utf8')) as Omit<BatchResult<D>, 'cases' | 'left'> & { cases: Record<string, GuestLine[]>; left: Record<string, string[]> };
  return { ...j, cases: new Map(Object.entries(j.cases)), left: new Map(Object.entries(j.left)) };
}
