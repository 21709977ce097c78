import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../cli/exit-codes.js';
import { adaptHeadersTree, replaceTreeFromStage } from './headers-tree.js';
import { checkRelease, headersDir, installedKernel, unpackRoot, type InstalledKernel } from '@klp-split/kernel-facts';
import { cacheDir } from '@klp-split/core';

/** The qemu harness, a file of this package (from src/ and dist/ alike). */
const QEMU_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts/qemu-kernel.sh');

function run(cmd: string, args: string[], opts: { cwd?: string; quiet?: boolean } = {}): { ok: boolean; out: string; err: string } {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error.message) : '') };
}

/** linux-headers-<release> and what it depends on for a kbuild tree (its -common headers, linux-kbuild). */
function headersPackages(release: string, update: () => void): string[] {
  const pkg = `linux-headers-${release}`;
  let dep = run('apt-cache', ['depends', '--no-recommends', '--no-suggests', pkg]);
  if (!dep.ok || !dep.out.includes(pkg)) {
    update();
    dep = run('apt-cache', ['depends', '--no-recommends', '--no-suggests', pkg]);
  }
  if (!dep.ok || !dep.out.includes(pkg)) {
    throw new UsageError(`no package ${pkg} in the apt archive`, `'klp-split kernel list --available' lists the releases apt offers`);
  }
  const deps = [...dep.out.matchAll(/^\s+\|?Depends:\s+(linux-headers-\S+-common|linux-kbuild-\S+)\s*$/gm)].map((m) => m[1]!);
  return [pkg, ...new Set(deps)];
}

/**
 * Unpacks a release's headers packages into <cache>/kernels/<release>/root
 * (apt-get download + dpkg-deb -x: nothing is installed on the host) and
 * points the absolute paths of Debian's layout into that root.
 */
function unpackHeaders(release: string, log: (s: string) => void, update: () => void): void {
  const root = unpackRoot(release);
  const pkgs = headersPackages(release, update);
  replaceTreeFromStage(root, (stage) => {
    mkdirSync(join(stage, 'debs'));
    log(`kernel add: downloading ${pkgs.join(' ')}`);
    const dl = run('apt-get', ['download', '-qq', ...pkgs], { cwd: join(stage, 'debs') });
    if (!dl.ok) throw new UsageError(`apt-get download ${pkgs.join(' ')} failed: ${dl.err.trim().split('\n').slice(-2).join(' ')}`);
    for (const deb of readdirSync(join(stage, 'debs')).filter((f) => f.endsWith('.deb'))) {
      const x = run('dpkg-deb', ['-x', join(stage, 'debs', deb), join(stage, 'root')]);
      if (!x.ok) throw new UsageError(`dpkg-deb -x ${deb} failed: ${x.err.trim()}`);
    }
    if (!existsSync(join(stage, 'root/usr/src', `linux-headers-${release}`, 'Module.symvers'))) throw new UsageError(`linux-headers-${release} has no Module.symvers`);
    adaptHeadersTree(join(stage, 'root'), root, release);
  });
}

/**
 * Kernels with BTF for modules (6.12) run pahole on every .ko when their
 * headers ship a vmlinux: without it every build fails at its last step.
 */
function ensureBtfTool(kdir: string, log: (s: string) => void, update: () => void): void {
  const conf = join(kdir, 'include/config/auto.conf');
  if (!existsSync(conf) || !/^CONFIG_DEBUG_INFO_BTF_MODULES=y$/m.test(readFileSync(conf, 'utf8'))) return;
  if (run('sh', ['-c', 'command -v pahole']).ok) return;
  log('kernel add: installing pahole (BTF for modules)');
  let r = run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'pahole']);
  if (!r.ok) {
    update();
    r = run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'pahole']);
  }
  if (!r.ok) throw new UsageError(`kernel add: ${kdir} builds BTF for modules, which needs pahole: apt-get install pahole failed: ${r.err.trim().split('\n').slice(-1)[0]}`);
}

/**
 * `klp-split kernel add <release>`: the release's headers (the host's
 * package, else Debian's packages unpacked into the cache) and the
 * /proc/kallsyms dump of its linux-image booted under qemu, cached per release.
 */
export function addKernel(releaseArg: string, log: (s: string) => void): InstalledKernel {
  const release = checkRelease(releaseArg);
  let updated = false;
  const update = (): void => {
    if (updated) return;
    updated = true;
    log('kernel add: apt-get update');
    const u = run('apt-get', ['update', '-qq']);
    if (!u.ok) throw new UsageError(`apt-get update failed: ${u.err.trim().split('\n').slice(-1)[0]}`, 'run klp-split kernel add as root');
  };
  if (!headersDir(release)) unpackHeaders(release, log, update);
  ensureBtfTool(headersDir(release)!, log, update);
  log(`kernel add: kallsyms of ${release} (boots linux-image-${release} under qemu once; cached)`);
  const q = spawnSync('bash', [QEMU_SCRIPT, 'kallsyms'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, KLP_QEMU_RELEASE: release, KLP_SPLIT_CACHE: cacheDir() } });
  if (q.status !== 0) throw new UsageError(`kernel add: no kallsyms dump of ${release} (qemu-kernel.sh kallsyms failed, see above)`);
  return installedKernel(release);
}
