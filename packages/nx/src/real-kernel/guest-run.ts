import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernelEnv } from '@klp-split/kernel-facts';
import { KlpError, type KernelKind } from '@klp-split/core';
import { splitRunOutput } from './guest-report.js';

/** This package's scripts/ (from src/ and dist/ alike): qemu-kernel.sh and the guest's scripts. */
const NX_SCRIPTS = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts');
const QEMU_KERNEL_SCRIPT = join(NX_SCRIPTS, 'qemu-kernel.sh');
/** The guest script that runs a scenario file (see its header). */
export const STEPS_SCRIPT = join(NX_SCRIPTS, 'guest/steps.sh');
/** The one list of programs the guest's initramfs holds. */
const GUEST_PROGRAMS_FILE = join(NX_SCRIPTS, 'guest/programs');

/** The programs of guest/programs, in order. */
export function guestPrograms(): string[] {
  return readFileSync(GUEST_PROGRAMS_FILE, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/**
 * The project's scripts/ directory (a checkout of klp-split: split-kernel.sh
 * builds the split kernel from the project's kernel/patches), or undefined
 * in an installed package, which ships neither.
 */
export function projectScripts(nxScripts = NX_SCRIPTS): string | undefined {
  const dir = resolve(nxScripts, '../../../scripts');
  return existsSync(join(dir, 'split-kernel.sh')) && existsSync(join(dir, 'kernel-env.sh')) && existsSync(resolve(dir, '../kernel/patches')) ? dir : undefined;
}

/** A setup problem of the real-kernel run (exit 2). */
export class GuestSetupError extends KlpError {
  constructor(message: string, hint?: string) {
    super(message, { code: 'real-kernel-setup', hint });
  }
}

interface Proc {
  code: number;
  stdout: string;
  stderr: string;
}

function runProc(cmd: string, args: string[], env: Record<string, string | undefined>, timeoutMs: number): Promise<Proc> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      done({ code: 127, stdout, stderr: `${stderr}${e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? (signal ? 128 + 9 : 1), stdout, stderr });
    });
  });
}

/** The environment that points qemu-kernel.sh at its helper scripts (`scripts`: the project's) and the kernel to boot. */
export function harnessEnv(kind: KernelKind, scripts: string | undefined): Record<string, string> {
  if (kind === 'split') {
    if (!scripts) {
      throw new GuestSetupError(
        `the split kernel is built by the klp-split project's scripts/split-kernel.sh from its kernel/patches, and neither is part of this installation (looked for ${resolve(NX_SCRIPTS, '../../../scripts/split-kernel.sh')})`,
        "run 'klp-split simulate --real-kernel split' from a checkout of the klp-split project, or use --real-kernel stock",
      );
    }
    return { KLP_QEMU_HELPERS: scripts, KLP_QEMU_KERNEL: 'split' };
  }
  return scripts ? { KLP_QEMU_HELPERS: scripts, KLP_QEMU_KERNEL: 'stock' } : { KLP_QEMU_RELEASE: kernelEnv().KLP_KERNEL_RELEASE, KLP_QEMU_KERNEL: 'stock' };
}

/** The kernel's release and the directory holding its modules.builtin (qemu-kernel.sh set up). */
function kernelModules(kind: KernelKind, env: Record<string, string>): { release: string; moddir: string } {
  if (kind === 'split') {
    const r = spawnSync('bash', [join(env.KLP_QEMU_HELPERS!, 'split-kernel.sh'), 'kdir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) throw new GuestSetupError(`scripts/split-kernel.sh kdir failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-5).join('\n')}`);
    const kdir = r.stdout.trim();
    return { release: readFileSync(join(kdir, 'include/config/kernel.release'), 'utf8').trim(), moddir: kdir };
  }
  const e = kernelEnv();
  const release = e.KLP_KERNEL_RELEASE;
  const moddir = [`/lib/modules/${release}`, join(e.KLP_CACHE, `qemu/linux-image-${release}/lib/modules/${release}`)].find((d) => existsSync(join(d, 'modules.builtin')));
  if (!moddir) throw new GuestSetupError(`no modules.builtin of ${release} (qemu-kernel.sh initramfs fetches the kernel)`);
  return { release, moddir };
}

interface GuestRunOptions {
  kernel: KernelKind;
  /** Modules installed under /lib/modules/<release>/extra and indexed with depmod. */
  kos: string[];
  /** The guest script (a .sh file of the project), run as /work/run.sh. */
  script: string;
  /** Data files for /work: name in the guest -> host file. */
  files?: Record<string, string>;
  /** A scratch directory of the caller's. */
  workDir: string;
  /** Extra kernel arguments (noapic is always given). */
  append?: string;
  /** The qemu run's limit in seconds. */
  timeoutS?: number;
}

interface GuestRunResult {
  /** qemu-kernel.sh's exit status: run.sh's, 125 when the guest did not finish. */
  exitCode: number;
  /** run.sh's output. */
  output: string;
  /** The kernel log of the run ('' when there is none). */
  dmesg: string;
  stderr: string;
  release: string;
  /** The qemu run, boot included. */
  ms: number;
}

/**
 * Boots the stock or the split kernel once under qemu (packages/nx's
 * qemu-kernel.sh) with the modules installed and indexed, so that modprobe
 * and the split kernel's request_module() find them, and runs the script.
 * Only files reach the guest.
 */
export async function runGuest(o: GuestRunOptions): Promise<GuestRunResult> {
  const env = harnessEnv(o.kernel, projectScripts());
  // Installs qemu, fetches the kernel, builds the initramfs once; a no-op when cached.
  const setup = await runProc('bash', [QEMU_KERNEL_SCRIPT, 'initramfs'], env, 60 * 60_000);
  if (setup.code !== 0) throw new GuestSetupError(`qemu-kernel.sh initramfs failed (exit ${setup.code}): ${setup.stderr.trim().split('\n').slice(-8).join('\n')}`);
  const { release, moddir } = kernelModules(o.kernel, env);

  const root = join(o.workDir, 'root');
  const modules = join(root, 'lib/modules', release);
  mkdirSync(join(modules, 'extra'), { recursive: true });
  for (const ko of o.kos) copyFileSync(ko, join(modules, 'extra', basename(ko)));
  // The split kernel's modules.order is its own build's; the stock one's would list modules the guest lacks.
  const indexes = ['modules.builtin', 'modules.builtin.modinfo', ...(o.kernel === 'split' ? ['modules.order'] : [])];
  for (const f of indexes) if (existsSync(join(moddir, f))) copyFileSync(join(moddir, f), join(modules, f));
  const depmod = spawnSync('depmod', ['-b', root, release], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
  if (depmod.status !== 0) throw new GuestSetupError(`depmod -b ${root} ${release} failed: ${depmod.stderr ?? depmod.error?.message}`);

  const guest = join(o.workDir, 'guest');
  mkdirSync(guest, { recursive: true });
  copyFileSync(o.script, join(guest, 'run.sh'));
  for (const [name, file] of Object.entries(o.files ?? {})) copyFileSync(file, join(guest, name));

  const timeoutS = o.timeoutS ?? 600;
  // noapic: TCG under load can miss the IO-APIC timer check at boot, a panic before anything runs
  // (the kernel's own advice in that panic); the legacy PIC serves one CPU as well.
  const t0 = performance.now();
  const r = await runProc('bash', [QEMU_KERNEL_SCRIPT, 'run', guest], { ...env, KLP_QEMU_ROOTFS: root, KLP_QEMU_APPEND: `noapic ${o.append ?? 'log_buf_len=4M'}`, KLP_QEMU_TIMEOUT: String(timeoutS) }, (timeoutS + 60) * 1000);
  const ms = performance.now() - t0;
  const parts = splitRunOutput(r.stdout);
  return { exitCode: r.code, output: parts?.output ?? r.stdout, dmesg: parts?.dmesg ?? '', stderr: r.stderr, release, ms };
}
