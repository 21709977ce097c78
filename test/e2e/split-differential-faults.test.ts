import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseTranscript } from '../../packages/nx/src/real-kernel/guest-report.js';
import { failures } from '../differential/split-compare.js';
import { comparable } from '../helpers/differential.js';
import { klpSplit, removeDir, tempDir } from '../helpers/env.js';
import { keptLines } from '../helpers/real-kernel.js';
import { CASES, splitFaultModules, splitFaultsBatch } from '../real/batches/split-differential-faults.js';
import { realBatch } from '../real/result.js';
import { qemuRun } from '../real/run-cache.js';

/**
 * Split differential faults: split livepatch modules, each case with one
 * fault or one situation of the split design, loaded on the real split
 * kernel (Debian's 6.1 with kernel/patches, under qemu, in the run's one
 * boot of it: test/real/batches/split-differential-faults.ts) and in the
 * simulator's split mode (`klp-split simulate` on the same .ko files). Both
 * must agree on every command's success or failure and on every line the
 * kernel and the tools print.
 */

interface KernelSide {
  /** Commands as `% ...`, tool errors, and the kernel's lines of livepatch and of the modules, in kernel-log order. */
  transcript: string[];
  status: number[];
  /** The modules cleaning up could not remove (pinned for good). */
  left: string[];
}

describe('split differential faults: the real split kernel and the simulator agree', () => {
  let dir: string;
  let real: { results: Map<string, KernelSide>; problems: string[]; ms: number; reusedFrom?: string };
  const simulated = new Map<string, { transcript: string[]; code: number; violations: string[] }>();
  const agreed = new Set<string>();

  beforeAll(async () => {
    const result = realBatch(splitFaultsBatch);
    dir = tempDir('split-faults');
    const { splitDir, handKo } = await splitFaultModules();

    // The simulator side through the command line users run, two cases at a time, while the real kernel runs them.
    const queue = [...CASES];
    const worker = async (): Promise<void> => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const scenario = join(dir, `${c.id}.scenario`);
        writeFileSync(scenario, `# ${c.what}\n${c.steps.join('\n')}\n`);
        const [first, ...also] = c.splits;
        const args = ['simulate', splitDir(first!), ...also.flatMap((a) => ['--also', splitDir(a)]), ...c.modules.flatMap((m) => ['--target', handKo(m)]), '--scenario', scenario, '--json'];
        const r = await klpSplit(args);
        // Exit 1 is a violation of the split design's invariants (a stale module is one): the transcript is still the run's.
        const parsed = r.code <= 1 && r.stdout.startsWith('{') ? (JSON.parse(r.stdout) as { transcript: string[]; violations: { code: string }[] }) : undefined;
        simulated.set(c.id, { code: r.code, transcript: parsed ? parsed.transcript : [r.stderr], violations: parsed ? parsed.violations.map((v) => v.code) : [] });
      }
    };
    await Promise.all([worker(), worker()]);

    const r = await result;
    const results = new Map<string, KernelSide>();
    for (const [id, lines] of r.cases) {
      // The x86 module loader's lines (prefix 'module: ') about the case's modules too: the relocation faults' reactions.
      const t = caseTranscript(keptLines(lines, (l) => l.startsWith('livepatch: ') || l.startsWith('klpsf') || l.startsWith('module: x86/modules: ') || l.startsWith('module: klpsf')));
      results.set(id, { transcript: t.lines, status: t.status, left: r.left.get(id) ?? [] });
    }
    real = { results, problems: r.problems, ms: r.ms, reusedFrom: r.reusedFrom };
  }, 60 * 60_000);

  afterAll(() => {
    // KLP_SPLIT_FAULTS_REPORT=<file> keeps both sides' transcripts of every case.
    const report = process.env.KLP_SPLIT_FAULTS_REPORT;
    if (report && real) {
      const cases = CASES.map((c) => ({ id: c.id, agrees: agreed.has(c.id), real: real.results.get(c.id), simulated: simulated.get(c.id) }));
      writeFileSync(report, JSON.stringify({ realRunMs: Math.round(real.ms), agreed: agreed.size, total: CASES.length, cases }, null, 2));
    }
    if (real) console.log(`split differential faults: ${agreed.size}/${CASES.length} agree; real split-kernel ${qemuRun(real)} (boot included)`);
    if (dir && !process.env.KLP_KEEP) removeDir(dir);
  });

  it('has at least 20 cases, and the real run ended every case with nothing left behind', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(20);
    expect(new Set(CASES.map((c) => c.id)).size).toBe(CASES.length);
    expect(real.problems).toEqual([]);
    expect([...real.results.keys()]).toEqual(CASES.map((c) => c.id));
    // A module pinned for good stays for the rest of the boot: only the last case may leave one.
    expect(CASES.slice(0, -1).filter((c) => c.leavesPinned)).toEqual([]);
  });

  for (const c of CASES) {
    it(`${c.id}: ${c.what}`, () => {
      const kernelSide = real.results.get(c.id);
      expect(kernelSide, 'the real kernel ran the case').toBeDefined();
      // Every command the guest ran reported its status.
      expect(kernelSide!.status.length).toBe(kernelSide!.transcript.filter((l) => l.startsWith('% ')).length);
      // The fault is real: the kernel reacted to it as the catalogue says.
      expect(kernelSide!.transcript).toContain(c.reaction);
      expect(kernelSide!.left).toEqual(c.leavesPinned ?? []);
      const sim = simulated.get(c.id)!;
      expect(sim.code, sim.transcript.join('\n')).toBeLessThanOrEqual(1);
      expect(comparable(sim.transcript)).toEqual(comparable(kernelSide!.transcript));
      expect(failures(sim.transcript)).toEqual(kernelSide!.status.map((s) => s !== 0));
      agreed.add(c.id);
    });
  }
});
