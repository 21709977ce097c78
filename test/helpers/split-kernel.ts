import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { ROOT } from './env.js';

/**
 * The split livepatch kernel (scripts/split-kernel.sh: Debian's 6.1 with the
 * project's kernel/patches) and runs of a guest script on it under qemu
 * (scripts/qemu-kernel.sh with KLP_QEMU_KERNEL=split).
 */

/** Programs the guest scripts use, put in the initramfs (kmod's tools, not busybox's). */
export const SPLIT_GUEST_BINS = 'bash modprobe rmmod insmod lsmod modinfo depmod';

export interface SplitKernel {
  /** The build tree: kbuild's -C for modules, with the split API in include/linux/livepatch.h. */
  kdir: string;
  release: string;
  /** How long scripts/split-kernel.sh took (a cache hit is about a second). */
  ms: number;
}

/** Builds the split kernel unless it is cached (a cold build takes minutes). */
export async function splitKernel(): Promise<SplitKernel> {
  const t0 = performance.now();
  const r = await execa('bash', ['scripts/split-kernel.sh', 'kdir'], { cwd: ROOT, reject: false, timeout: 60 * 60_000 });
  if (r.exitCode !== 0) throw new Error(`scripts/split-kernel.sh failed (exit ${r.exitCode}):\n${String(r.stderr).slice(-4000)}`);
  const kdir = String(r.stdout).trim();
  const release = readFileSync(join(kdir, 'include/config/kernel.release'), 'utf8').trim();
  return { kdir, release, ms: performance.now() - t0 };
}

export interface GuestRun {
  /** Lines of each case ('split-guest: case <id>' .. 'end <id>'), see guestTranscripts(). */
  cases: Map<string, string[]>;
  /** 'problem:' lines: a wait that ran out or a guest command that failed unexpectedly. */
  problems: string[];
  dmesg: string;
  /** The qemu run, boot included. */
  ms: number;
}

/**
 * The guest's report: the kernel log between each case's markers, as lines
 * of the transcript. The guest's own lines lose their 'split-guest: ' prefix
 * ('% cmd', 'out ...', 'rc N', 'lsmod ...', 'objects ...'); of the kernel's
 * lines those of the livepatch core and of the case's modules stay (their
 * names start with `modulePrefix`), without timestamps and taint notices.
 */
export function guestTranscripts(dmesg: string, modulePrefix: string): GuestRun['cases'] {
  const cases: GuestRun['cases'] = new Map();
  let current: string[] | undefined;
  for (const raw of dmesg.split('\n')) {
    const line = raw.replace(/^\[[ 0-9.]*\] /, '');
    const guest = /^split-guest: (.*)$/.exec(line);
    if (guest) {
      const text = guest[1]!;
      const marker = /^(case|end) (\S+)$/.exec(text);
      if (marker?.[1] === 'case') cases.set(marker[2]!, (current = []));
      else if (marker) current = undefined;
      else current?.push(text.trimEnd());
      continue;
    }
    if (!current || /(tainting|taints) kernel/.test(line)) continue;
    if (line.startsWith('livepatch: ') || line.startsWith(modulePrefix)) current.push(line);
  }
  return cases;
}

/**
 * Boots the split kernel once with `kos` in /lib/modules/<release>/extra
 * (indexed by depmod, so request_module() finds them) and runs `guestScript`
 * (a .sh file of the project) as /work/run.sh.
 */
export async function runOnSplitKernel(kernel: SplitKernel, kos: string[], guestScript: string, workDir: string, modulePrefix: string): Promise<GuestRun> {
  const root = join(workDir, 'root');
  const extra = join(root, 'lib/modules', kernel.release, 'extra');
  mkdirSync(extra, { recursive: true });
  for (const ko of kos) copyFileSync(ko, join(extra, basename(ko)));
  for (const f of ['modules.builtin', 'modules.builtin.modinfo', 'modules.order']) {
    copyFileSync(join(kernel.kdir, f), join(root, 'lib/modules', kernel.release, f));
  }
  await execa('depmod', ['-b', root, kernel.release], { env: { PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });

  const guest = join(workDir, 'guest');
  mkdirSync(guest, { recursive: true });
  // qemu-kernel.sh runs run.sh with busybox sh; the guest scripts are bash.
  copyFileSync(guestScript, join(guest, 'guest.sh'));
  writeFileSync(join(guest, 'run.sh'), 'exec /usr/bin/bash /work/guest.sh\n');

  const t0 = performance.now();
  const r = await execa('bash', ['scripts/qemu-kernel.sh', 'run', guest], {
    cwd: ROOT,
    reject: false,
    timeout: 15 * 60_000,
    env: { KLP_QEMU_KERNEL: 'split', KLP_QEMU_BINS: SPLIT_GUEST_BINS, KLP_QEMU_ROOTFS: root, KLP_QEMU_APPEND: 'log_buf_len=4M', KLP_QEMU_TIMEOUT: '600' },
  });
  const ms = performance.now() - t0;
  const out = String(r.stdout);
  const cut = out.indexOf('\n### klp-qemu: dmesg\n');
  if (r.exitCode !== 0 || cut < 0 || !out.includes('### split-guest: done')) {
    throw new Error(`the split-kernel run failed (exit ${r.exitCode}):\n${out.slice(-4000)}\n${String(r.stderr).slice(-4000)}`);
  }
  const dmesg = out.slice(cut + '\n### klp-qemu: dmesg\n'.length);
  const problems = dmesg.split('\n').filter((l) => l.includes('split-guest: problem:')).map((l) => l.replace(/^.*split-guest: problem: /, ''));
  return { cases: guestTranscripts(dmesg, modulePrefix), problems, dmesg, ms };
}
