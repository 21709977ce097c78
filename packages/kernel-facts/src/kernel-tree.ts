import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, KlpError, type KernelTree } from '@klp-split/core';
import { installedKernel } from './installed-kernels.js';
import { defaultKallsymsFile } from './kallsyms.js';

/** No kernel tree, or one modules cannot be built against: an environment error (exit 2). */
class KernelTreeError extends KlpError {
  constructor(message: string, code: string) {
    super(message, { code });
  }
}

/** The kernel environment script, a file of this package (from src/ and dist/ alike). */
const KERNEL_ENV_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../scripts/kernel-env.sh');

interface KernelEnv {
  KLP_KDIR: string;
  KLP_KERNEL_RELEASE: string;
  KLP_CORPUS: string;
  KLP_CACHE: string;
  /** With --source only: the whole extracted linux-source tree. */
  KLP_SOURCE?: string;
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
    throw new KernelTreeError((err.stderr || err.message).trim(), 'kernel-env-failed');
  }
  cachedEnv = JSON.parse(out) as KernelEnv;
  return cachedEnv;
}

let cachedSource: string | undefined;

/**
 * The whole source tree of the kernel at hand (Debian's linux-source-6.1,
 * extracted once into the cache by scripts/kernel-env.sh --source).
 */
export function kernelSourceTree(install = true): string {
  if (cachedSource) return cachedSource;
  let out: string;
  try {
    out = execFileSync('bash', [KERNEL_ENV_SCRIPT, '--json', '--source', ...(install ? [] : ['--no-install'])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new KernelTreeError((err.stderr || err.message).trim(), 'kernel-env-failed');
  }
  const env = JSON.parse(out) as KernelEnv;
  if (!env.KLP_SOURCE) throw new KernelTreeError(`${KERNEL_ENV_SCRIPT} --source printed no KLP_SOURCE`, 'kernel-env-failed');
  cachedSource = env.KLP_SOURCE;
  // The same run answers kernelEnv() too.
  if (install) cachedEnv ??= env;
  return cachedSource;
}

interface KernelTreeOptions {
  /** --kdir: a kernel tree. */
  kdir?: string;
  /** --kernel: a release `klp-split kernel add` installed (its headers and kallsyms dump); takes precedence over kdir. */
  kernel?: string;
  /** How kdir was given when not by --kdir (e.g. a marker's "kdir"), for messages. */
  from?: string;
  /** false: skip the project's kernel environment. */
  useKernelEnv?: boolean;
  /** false: the kernel environment does not install Debian's packages. */
  install?: boolean;
}

/**
 * The kernel a command works against, resolved once: --kernel <release>,
 * else --kdir, then $KDIR, then the project's kernel environment
 * (scripts/kernel-env.sh), then /lib/modules/$(uname -r)/build.
 */
export function discoverKernelTree(opts: KernelTreeOptions = {}): KernelTree {
  if (opts.kernel !== undefined) return checkKernelTree(installedKernel(opts.kernel).kdir, '--kernel');
  if (opts.kdir) return checkKernelTree(opts.kdir, opts.from || '--kdir');
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
  if (!existsSync(abs)) throw new KernelTreeError(`kernel tree ${abs} (from ${source}) does not exist`, 'kernel-tree-missing');
  const makefile = join(abs, 'Makefile');
  if (!existsSync(makefile)) throw new KernelTreeError(`kernel tree ${abs} (from ${source}) has no top-level Makefile`, 'kernel-tree-no-makefile');
  const symvers = join(abs, 'Module.symvers');
  if (!existsSync(symvers)) {
    throw new KernelTreeError(`kernel tree ${abs} (from ${source}) has no Module.symvers: run 'make modules' there or install the distribution's headers package`, 'kernel-tree-no-symvers');
  }
  const sourceDirs = treeSourceDirs(abs);
  const header = findInclude(sourceDirs, 'linux/livepatch.h');
  if (!header) throw new KernelTreeError(`kernel tree ${abs} (from ${source}) has no include/linux/livepatch.h`, 'kernel-tree-no-livepatch-header');
  const rel = kernelRelease(abs);
  const cache = cacheDirIfAny();
  const kallsyms = cache === undefined ? undefined : defaultKallsymsFile(rel, cache);
  return {
    dir: abs,
    source,
    release: rel,
    symvers,
    livepatchHeader: header,
    sourceDirs,
    kind: headersHaveSplitApi(readFileSync(header, 'utf8')) ? 'split' : 'stock',
    ...(kallsyms ? { kallsyms } : {}),
    ...(cache ? { cacheDir: cache } : {}),
  };
}

/** The cache directory, or undefined when the environment names none: commands that write there report that (core's createCacheDir). */
function cacheDirIfAny(): string | undefined {
  try {
    return cacheDir();
  } catch {
    return undefined;
  }
}

/** Whether a linux/livepatch.h declares the split livepatch API (klp_add_object). */
function headersHaveSplitApi(headerText: string): boolean {
  return /\bklp_add_object\s*\(/.test(headerText);
}

/** Debian's per-flavour headers include a common tree from their Makefile; follow that. */
function treeSourceDirs(dir: string): string[] {
  const dirs = [dir];
  const makefile = readFileSync(join(dir, 'Makefile'), 'utf8');
  for (const m of makefile.matchAll(/^include\s+(\S+)\/Makefile\s*$/gm)) dirs.push(m[1]!);
  return dirs;
}

/** The directories kbuild searches for `#include <...>` (x86), in its order. */
export function includeDirs(tree: KernelTree): string[] {
  const out: string[] = [];
  for (const d of tree.sourceDirs) {
    // kbuild's LINUXINCLUDE, in its order.
    for (const sub of ['arch/x86/include', 'arch/x86/include/generated', 'include', 'arch/x86/include/uapi', 'arch/x86/include/generated/uapi', 'include/uapi', 'include/generated/uapi']) {
      const p = join(d, sub);
      if (existsSync(p)) out.push(p);
    }
  }
  return out;
}

function findInclude(sourceDirs: string[], rel: string): string | undefined {
  for (const d of sourceDirs) {
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
