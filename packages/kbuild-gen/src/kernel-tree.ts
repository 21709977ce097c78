import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A kernel build tree (full tree or Debian-style headers) usable for `make M=`. */
export interface KernelTree {
  dir: string;
  /** How it was found: '--kdir', 'KDIR', 'kernel-env', '/lib/modules'. */
  source: string;
  release: string;
  symvers: string;
  /** The installed linux/livepatch.h. */
  livepatchHeader: string;
}

export class KernelTreeError extends Error {}

/** The kernel environment script, a file of this package (from src/ and dist/ alike). */
export const KERNEL_ENV_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../scripts/kernel-env.sh');

export interface KernelEnv {
  KLP_KDIR: string;
  KLP_KERNEL_RELEASE: string;
  KLP_CORPUS: string;
  KLP_CACHE: string;
}

let cachedEnv: KernelEnv | undefined;

/** Runs scripts/kernel-env.sh (installs Debian's packages on demand unless `install` is false). */
export function kernelEnv(install = true): KernelEnv {
  if (cachedEnv) return cachedEnv;
  let out: string;
  try {
    out = execFileSync('bash', [KERNEL_ENV_SCRIPT, '--json', ...(install ? [] : ['--no-install'])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new KernelTreeError((err.stderr || err.message).trim());
  }
  cachedEnv = JSON.parse(out) as KernelEnv;
  return cachedEnv;
}

/**
 * Finds the kernel tree: --kdir, then $KDIR, then the project's kernel
 * environment, then /lib/modules/$(uname -r)/build.
 */
export function discoverKernelTree(opts: { kdir?: string; useKernelEnv?: boolean; install?: boolean } = {}): KernelTree {
  if (opts.kdir) return checkKernelTree(opts.kdir, '--kdir');
  if (process.env.KDIR) return checkKernelTree(process.env.KDIR, 'KDIR');
  if (opts.useKernelEnv !== false) {
    try {
      return checkKernelTree(kernelEnv(opts.install ?? true).KLP_KDIR, 'kernel-env');
    } catch (e) {
      const fallback = `/lib/modules/${release()}/build`;
      if (!existsSync(fallback)) throw e;
    }
  }
  return checkKernelTree(`/lib/modules/${release()}/build`, '/lib/modules');
}

/** Checks that `dir` is a kernel tree modules can be built against; names what is missing. */
export function checkKernelTree(dir: string, source: string): KernelTree {
  const abs = resolve(dir);
  if (!existsSync(abs)) throw new KernelTreeError(`kernel tree ${abs} (from ${source}) does not exist`);
  const makefile = join(abs, 'Makefile');
  if (!existsSync(makefile)) throw new KernelTreeError(`kernel tree ${abs} (from ${source}) has no top-level Makefile`);
  const symvers = join(abs, 'Module.symvers');
  if (!existsSync(symvers)) {
    throw new KernelTreeError(`kernel tree ${abs} (from ${source}) has no Module.symvers: run 'make modules' there or install the distribution's headers package`);
  }
  const header = findInclude(abs, 'linux/livepatch.h');
  if (!header) throw new KernelTreeError(`kernel tree ${abs} (from ${source}) has no include/linux/livepatch.h`);
  return { dir: abs, source, release: kernelRelease(abs), symvers, livepatchHeader: header };
}

/** Debian's per-flavour headers include a common tree from their Makefile; follow that. */
function sourceDirs(dir: string): string[] {
  const dirs = [dir];
  const makefile = readFileSync(join(dir, 'Makefile'), 'utf8');
  for (const m of makefile.matchAll(/^include\s+(\S+)\/Makefile\s*$/gm)) dirs.push(m[1]!);
  return dirs;
}

/** The directories kbuild searches for `#include <...>` (x86), in its order. */
export function includeDirs(tree: KernelTree): string[] {
  const out: string[] = [];
  for (const d of sourceDirs(tree.dir)) {
    // kbuild's LINUXINCLUDE, in its order.
    for (const sub of ['arch/x86/include', 'arch/x86/include/generated', 'include', 'arch/x86/include/uapi', 'arch/x86/include/generated/uapi', 'include/uapi', 'include/generated/uapi']) {
      const p = join(d, sub);
      if (existsSync(p)) out.push(p);
    }
  }
  return out;
}

export function findInclude(dir: string, rel: string): string | undefined {
  for (const d of sourceDirs(dir)) {
    const p = join(d, 'include', rel);
    if (existsSync(p)) return p;
  }
  return undefined;
}

function kernelRelease(dir: string): string {
  // Debian's headers override KERNELRELEASE (it is what vermagic carries).
  const vars = join(dir, '.kernelvariables');
  const m = existsSync(vars) ? /KERNELRELEASE\s*=\s*(\S+)/.exec(readFileSync(vars, 'utf8')) : null;
  if (m) return m[1]!;
  const rel = join(dir, 'include/config/kernel.release');
  if (existsSync(rel)) return readFileSync(rel, 'utf8').trim();
  try {
    return execFileSync('make', ['-s', '-C', dir, 'kernelrelease'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}
