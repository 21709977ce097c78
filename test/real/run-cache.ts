import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { cacheDir, type KernelKind } from '@klp-split/core';
import { kernelEnv } from '@klp-split/kernel-facts';
import { harnessEnv, projectScripts, runGuest } from '../../packages/nx/src/real-kernel/guest-run.js';
import { guestDone, parseGuestReport } from '../../packages/nx/src/real-kernel/guest-report.js';
import { ROOT } from '../helpers/env.js';

/**
 * Real-kernel runs kept by everything they ran. A qemu run under TCG costs a
 * core for minutes, and what a kernel prints is decided by what it was given:
 * the kernel image and initramfs booted, the harness and guest scripts
 * (packages/nx/scripts, the guest runner), the scenario and data files, the
 * kernel arguments, and the bytes the kernel loads of every module. A run
 * whose key matches a finished run's is that run's transcript; any change to
 * any of them boots again. The modules count without their .debug_*
 * sections and build id: the loader never reads the former, which hold the
 * path the module was built in, and the latter hashes them. KLP_TEST_REAL_RUNS=fresh boots
 * every time (and replaces what is kept).
 */

type GuestOptions = Parameters<typeof runGuest>[0];
type GuestResult = Awaited<ReturnType<typeof runGuest>>;

export interface KeptRun extends GuestResult {
  /** When the kept run was made (ISO time), when this result is one; undefined for a run made now. */
  reusedFrom?: string;
}

const KEEP_DAYS = 14;
const fresh = (): boolean => process.env.KLP_TEST_REAL_RUNS === 'fresh';

function sha(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hashTree(h: ReturnType<typeof createHash>, dir: string, rel = ''): void {
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const path = join(dir, rel, name);
    if (statSync(path).isDirectory()) hashTree(h, dir, join(rel, name));
    else h.update(`${join(rel, name)}\0${sha(readFileSync(path))}\0`);
  }
}

/**
 * What decides the kernel's reaction to a module: the file without its debug
 * sections and its build id (a hash over the whole file, debug sections
 * included, which the kernel only prints in stack traces).
 */
function loadedBytes(ko: string, scratch: string): string {
  const out = join(scratch, basename(ko));
  execFileSync('objcopy', ['--strip-debug', '--remove-section=.note.gnu.build-id', ko, out]);
  return sha(readFileSync(out));
}

/** The kernel image qemu-kernel.sh boots for `kernel` (its locate_kernel()). */
function kernelImage(kernel: KernelKind): string {
  if (kernel === 'split') return execFileSync('bash', [join(ROOT, 'scripts/split-kernel.sh'), 'image'], { encoding: 'utf8' }).trim();
  const e = kernelEnv();
  const release = e.KLP_KERNEL_RELEASE;
  const system = `/boot/vmlinuz-${release}`;
  if (existsSync(system) && existsSync(`/lib/modules/${release}/modules.builtin`)) return system;
  return join(e.KLP_CACHE, `qemu/linux-image-${release}/boot/vmlinuz-${release}`);
}

const bootMemo = new Map<KernelKind, string>();
/** The kernel image and initramfs qemu-kernel.sh boots for `kernel` (hashed once per process). */
function bootKey(kernel: KernelKind): string {
  const memo = bootMemo.get(kernel);
  if (memo) return memo;
  const env = harnessEnv(kernel, projectScripts());
  const initramfs = execFileSync('bash', [join(ROOT, 'packages/nx/scripts/qemu-kernel.sh'), 'initramfs'], { encoding: 'utf8', env: { ...process.env, ...env } }).trim();
  const key = `kernel ${kernel}\0image ${sha(readFileSync(kernelImage(kernel)))}\0initramfs ${sha(readFileSync(initramfs))}\0`;
  bootMemo.set(kernel, key);
  return key;
}

/** The key of a guest run: everything that decides what the kernel prints. */
export function runKey(o: GuestOptions): string {
  const h = createHash('sha256');
  h.update(bootKey(o.kernel));
  hashTree(h, join(ROOT, 'packages/nx/scripts'));
  h.update(`runner ${sha(readFileSync(join(ROOT, 'packages/nx/src/real-kernel/guest-run.ts')))}\0`);
  h.update(`script ${sha(readFileSync(o.script))}\0append ${o.append ?? ''}\0`);
  for (const [name, file] of Object.entries(o.files ?? {}).sort(([a], [b]) => a.localeCompare(b))) h.update(`file ${name}\0${sha(readFileSync(file))}\0`);
  const scratch = mkdtempSync(join(tmpdir(), 'klp-split-runkey-'));
  try {
    for (const ko of [...o.kos].sort((a, b) => basename(a).localeCompare(basename(b)))) h.update(`ko ${basename(ko)}\0${loadedBytes(ko, scratch)}\0`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return h.digest('hex').slice(0, 24);
}

/** How a suite's log line names a real-kernel run: its time, and whether it is a kept one. */
export function qemuRun(r: { ms: number; reusedFrom?: string }): string {
  return `qemu run ${(r.ms / 1000).toFixed(1)} s${r.reusedFrom ? ` (kept from ${r.reusedFrom}: same kernel, scripts, scenario and modules)` : ''}`;
}

const runsDir = (): string => join(cacheDir(), 'real-runs');

/** Runs that were not used for KEEP_DAYS go (once per process). */
let swept = false;
function sweep(dir: string): void {
  if (swept) return;
  swept = true;
  const cutoff = Date.now() - KEEP_DAYS * 24 * 3600_000;
  for (const name of readdirSync(dir)) if (statSync(join(dir, name)).mtimeMs < cutoff) rmSync(join(dir, name), { force: true });
}

/**
 * runGuest(), or the kept transcript of a finished run with the same key.
 * Only a run that finished cleanly is kept (exit 0, a kernel log, the
 * guest's end line, no 'problem:' of the guest: a wait that ran out under
 * load is not a fact to keep).
 */
export async function keptGuestRun(o: GuestOptions): Promise<KeptRun> {
  const key = runKey(o);
  const dir = runsDir();
  mkdirSync(dir, { recursive: true });
  sweep(dir);
  const file = join(dir, `${o.kernel}-${key}.json`);
  if (!fresh() && existsSync(file)) {
    const kept = JSON.parse(readFileSync(file, 'utf8')) as KeptRun & { at: string };
    const now = new Date();
    utimesSync(file, now, now);
    return { ...kept, reusedFrom: kept.at };
  }
  const r = await runGuest(o);
  if (r.exitCode === 0 && r.dmesg && guestDone(r.output) && parseGuestReport(r.dmesg, () => false).problems.length === 0) {
    writeFileSync(`${file}.tmp`, JSON.stringify({ ...r, at: new Date().toISOString() }));
    renameSync(`${file}.tmp`, file);
  }
  return r;
}
