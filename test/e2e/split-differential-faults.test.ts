import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readElf } from '@klp-split/kernel-facts';
import { applyRelocEdit } from '../differential/reloc-edit.js';
import { SPLIT_FAULT_CASES, SPLIT_FAULT_EDITS, SPLIT_FAULT_MODULES } from '../differential/split-catalogue.js';
import { failures } from '../differential/split-compare.js';
import { comparable } from '../helpers/differential.js';
import { classicSource, splitModuleSource } from '../differential/split-module-source.js';
import { runSplitCases, type SplitRealRun } from '../differential/split-real-run.js';
import { klpSplit, removeDir, tempDir } from '../helpers/env.js';
import { splitKernel, type SplitKernel } from '../helpers/split-kernel.js';

/**
 * Split differential faults: split livepatch modules, each case with one
 * fault or one situation of the split design, loaded on the real split
 * kernel (Debian's 6.1 with kernel/patches, under qemu, one boot for all)
 * and in the simulator's split mode (`klp-split simulate` on the same .ko
 * files). Both must agree on every command's success or failure and on
 * every line the kernel and the tools print.
 */

const CASES = SPLIT_FAULT_CASES;

describe('split differential faults: the real split kernel and the simulator agree', () => {
  let dir: string;
  let kernel: SplitKernel;
  let real: SplitRealRun;
  const simulated = new Map<string, { transcript: string[]; code: number; violations: string[] }>();
  const agreed = new Set<string>();

  beforeAll(async () => {
    kernel = await splitKernel();
    dir = tempDir('split-faults');
    const kos: string[] = [];
    const splitDir = (name: string): string => join(dir, 'split', name);

    // The natural input: classic livepatches split by klp-split, built against the split kernel's tree.
    for (const spec of SPLIT_FAULT_MODULES) {
      if (spec.kind !== 'classic') continue;
      const src = join(dir, 'classic', `${spec.name}.c`);
      mkdirSync(join(dir, 'classic'), { recursive: true });
      writeFileSync(src, classicSource(spec));
      const split = await klpSplit(['split', src, '--out', splitDir(spec.name)]);
      if (split.code !== 0) throw new Error(`splitting ${spec.name} failed:\n${split.stderr}`);
      const built = await klpSplit(['build', splitDir(spec.name), '--kdir', kernel.kdir]);
      if (built.code !== 0) throw new Error(`building the split ${spec.name} failed:\n${built.stdout}\n${built.stderr}`);
      kos.push(...readdirSync(splitDir(spec.name)).filter((f) => f.endsWith('.ko')).map((f) => join(splitDir(spec.name), f)));
    }
    // Modules written with the split API and the targets: one build with livepatch relocations, one without.
    const direct = SPLIT_FAULT_MODULES.filter((m) => m.kind !== 'classic');
    const handDir = (raw: boolean): string => join(dir, raw ? 'hand-raw' : 'hand');
    const isRaw = (name: string): boolean => direct.some((m) => m.name === name && m.kind === 'part' && m.noKlpRelocs === true);
    for (const raw of [false, true]) {
      const hand = handDir(raw);
      mkdirSync(hand, { recursive: true });
      // The raw build has the targets too, so that modpost finds the exports its parts use (the .ko files installed are the other build's).
      for (const spec of direct) if (isRaw(spec.name) === raw || (raw && spec.kind === 'target')) writeFileSync(join(hand, `${spec.name}.c`), splitModuleSource(spec));
      const built = await klpSplit(['build', hand, '--kdir', kernel.kdir, ...(raw ? ['--no-klp-relocs'] : [])]);
      if (built.code !== 0) throw new Error(`building the split-API modules failed:\n${built.stdout}\n${built.stderr}`);
    }
    const handKo = (name: string): string => join(handDir(isRaw(name)), `${name}.ko`);
    for (const e of SPLIT_FAULT_EDITS) for (const edit of e.edits(readElf(readFileSync(handKo(e.module)), handKo(e.module)))) applyRelocEdit(handKo(e.module), edit);
    kos.push(...direct.map((m) => handKo(m.name)));

    real = await runSplitCases(kernel, kos, CASES.map((c) => ({ id: c.id, steps: c.guestSteps ?? c.steps })), join(dir, 'real'), 'klpsf');

    // The simulator side through the command line users run, two cases at a time.
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
  }, 40 * 60_000);

  afterAll(() => {
    // KLP_SPLIT_FAULTS_REPORT=<file> keeps both sides' transcripts of every case.
    const report = process.env.KLP_SPLIT_FAULTS_REPORT;
    if (report && real) {
      const cases = CASES.map((c) => ({ id: c.id, agrees: agreed.has(c.id), real: real.results.get(c.id), simulated: simulated.get(c.id) }));
      writeFileSync(report, JSON.stringify({ realRunMs: Math.round(real.ms), agreed: agreed.size, total: CASES.length, cases }, null, 2));
    }
    if (real) console.log(`split differential faults: ${agreed.size}/${CASES.length} agree; real split-kernel run ${(real.ms / 1000).toFixed(1)} s (boot included)`);
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
