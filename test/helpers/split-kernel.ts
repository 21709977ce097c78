import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { guestDone, parseGuestReport, type GuestLine } from '../../packages/nx/src/real-kernel/guest-report.js';
import { keptGuestRun } from '../real/run-cache.js';
import { QUICK } from '../tiers.js';
import { klpSplit, ROOT } from './env.js';

/**
 * The split livepatch kernel (scripts/split-kernel.sh: Debian's 6.1 with the
 * project's kernel/patches, built once and cached); its runs under qemu are
 * real-kernel batches (test/real/batch.ts) with kernel 'split'.
 */

export interface SplitKernel {
  /** The build tree: kbuild's -C for modules, with the split API in include/linux/livepatch.h. */
  kdir: string;
  release: string;
  /** How long scripts/split-kernel.sh took (a cache hit is about a second). */
  ms: number;
}

/** Builds the split kernel unless it is cached (a cold build takes minutes). */
export async function splitKernel(): Promise<SplitKernel> {
  if (QUICK) throw new Error('this suite needs the split kernel: list it in REAL_KERNEL of test/tiers.ts (the quick tier builds no kernel)');
  const t0 = performance.now();
  const r = await execa('bash', ['scripts/split-kernel.sh', 'kdir'], { cwd: ROOT, reject: false, timeout: 60 * 60_000 });
  if (r.exitCode !== 0) throw new Error(`scripts/split-kernel.sh failed (exit ${r.exitCode}):\n${String(r.stderr).slice(-4000)}`);
  const kdir = String(r.stdout).trim();
  const release = readFileSync(join(kdir, 'include/config/kernel.release'), 'utf8').trim();
  return { kdir, release, ms: performance.now() - t0 };
}

export interface GuestRun {
  /** Lines of each case ('klp-guest: case <id>' .. 'end <id>'), see guestTranscripts(). */
  cases: Map<string, string[]>;
  /** 'problem:' lines: a wait that ran out or a guest command that failed unexpectedly. */
  problems: string[];
  dmesg: string;
  /** The qemu run, boot included. */
  ms: number;
}

/** A line of the guest's report as the split-kernel suites read it. */
function shown(l: GuestLine): string {
  switch (l.kind) {
    case 'cmd':
      return `% ${l.text}`;
    case 'out':
      return `out ${l.text}`;
    case 'rc':
      return `rc ${l.status}`;
    default:
      return l.text;
  }
}

/**
 * The guest's report (parseGuestReport()) as lines of a transcript: the
 * guest's own lines without their 'klp-guest: ' prefix ('% cmd', 'out ...',
 * 'rc N', 'lsmod ...', 'objects ...'); of the kernel's lines those of the
 * livepatch core, of the case's modules (their names start with
 * `modulePrefix`) and of the x86 module loader, without timestamps and
 * taint notices.
 */
export function guestTranscripts(dmesg: string, modulePrefix: string): GuestRun['cases'] {
  // The x86 module loader's lines (arch/x86/kernel/module.c, prefix 'module: ') about the case's modules too.
  const keep = (line: string): boolean => line.startsWith('livepatch: ') || line.startsWith(modulePrefix) || line.startsWith('module: x86/modules: ') || line.startsWith(`module: ${modulePrefix}`);
  const report = parseGuestReport(dmesg, keep);
  return new Map([...report.cases].map(([id, lines]) => [id, lines.map(shown)]));
}

/**
 * Boots the split kernel once with `kos` in /lib/modules/<release>/extra
 * (indexed by depmod, so request_module() finds them) and runs `guestScript`
 * (a .sh file of the project) as /work/run.sh.
 */
export async function runOnSplitKernel(kernel: SplitKernel, kos: string[], guestScript: string, workDir: string, modulePrefix: string): Promise<GuestRun> {
  const r = await keptGuestRun({ kernel: 'split', kos, script: guestScript, workDir, append: 'log_buf_len=4M', timeoutS: 600 });
  if (r.release !== kernel.release) throw new Error(`the split kernel booted is ${r.release}, not ${kernel.release}`);
  if (r.exitCode !== 0 || !r.dmesg || !guestDone(r.output)) {
    throw new Error(`the split-kernel run failed (exit ${r.exitCode}):\n${r.output.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  }
  return { cases: guestTranscripts(r.dmesg, modulePrefix), problems: parseGuestReport(r.dmesg, () => false).problems, dmesg: r.dmesg, ms: r.ms };
}

/**
 * `klp-split simulate --real-kernel split` on built split directories (the
 * first as the patch, the others with --also) and their target modules:
 * the scenario in the simulator and on the split kernel in one qemu boot.
 */
export async function simulateOnSplitKernel(dirs: string[], targets: string[], scenarioFile: string): Promise<{ code: number; out: string }> {
  const r = await klpSplit(['simulate', dirs[0]!, ...dirs.slice(1).flatMap((d) => ['--also', d]), ...targets.flatMap((t) => ['--target', t]), '--scenario', scenarioFile, '--real-kernel', 'split']);
  return { code: r.code, out: `${r.stdout}\n${r.stderr}` };
}

/** The real kernel's column of a comparison's `@lsmod` lines. */
export function realLsmod(out: string): string[] {
  return out
    .split('\n')
    .map((l) => /\| (lsmod.*)$/.exec(l)?.[1])
    .filter((l): l is string => l !== undefined);
}
