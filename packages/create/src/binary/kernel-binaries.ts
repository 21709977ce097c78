import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureCacheDir, KlpError, readInput } from '@klp-split/core';

/**
 * Where the binaries of the kernel release at hand are: the kallsyms dump
 * of the booted kernel (vmlinux's symbols in kallsyms order), the
 * distribution's vmlinuz (vmlinux's code, for what calls what) and its
 * modules (a module's symbols and code). `klp-split kernel add <release>`
 * (qemu-kernel.sh) downloads Debian's image package and takes the dump;
 * nothing here downloads anything.
 */

/** Each is looked up when first needed: a fix of vmlinux needs no modules, one of a module no vmlinuz. */
export interface KernelBinaries {
  release: string;
  kallsyms(): string;
  /** vmlinuz, or an ELF vmlinux (a kernel built here has one). */
  vmlinuz(): string;
  /** /lib/modules/<release> of the image: modules.dep and kernel/.../*.ko. */
  modulesDir(): string;
}

export interface BinaryPaths {
  kallsyms?: string;
  vmlinuz?: string;
  modulesDir?: string;
}

function missing(what: string, release: string, looked: string[]): never {
  throw new KlpError(`no ${what} of kernel ${release} (looked in ${looked.join(', ')})`, {
    code: 'kernel-binaries-missing',
    hint: `run 'klp-split kernel add ${release}' (it downloads linux-image-${release} and dumps its kallsyms), or give the path`,
  });
}

/** The release's binaries: what the options name, else the cache `kernel add` fills, else the host's /boot and /lib/modules. */
export function locateKernelBinaries(release: string, cache: string, given: BinaryPaths = {}): KernelBinaries {
  const image = join(cache, 'qemu', `linux-image-${release}`);
  const pick = (what: string, candidates: string[], ok: (p: string) => boolean): string => candidates.find((p) => ok(p)) ?? missing(what, release, candidates);
  const isFile = (p: string): boolean => existsSync(p) && statSync(p).isFile();
  return {
    release,
    kallsyms: () => given.kallsyms ?? pick('kallsyms dump', [process.env.KLP_KALLSYMS, join(cache, `kallsyms-${release}.txt`)].filter((p): p is string => !!p), isFile),
    vmlinuz: () => given.vmlinuz ?? pick('vmlinuz', [join(image, 'boot', `vmlinuz-${release}`), `/boot/vmlinuz-${release}`], isFile),
    modulesDir: () => given.modulesDir ?? pick('modules', [join(image, 'lib/modules', release), `/lib/modules/${release}`], (p) => isFile(join(p, 'modules.dep'))),
  };
}

/** The module file (`kernel/drivers/block/zram/zram.ko`) of a module by its kbuild name, from modules.dep. */
export function moduleFile(modulesDir: string, moduleName: string): string | undefined {
  const dep = readFileSync(join(modulesDir, 'modules.dep'), 'utf8');
  const want = moduleName.replace(/-/g, '_');
  for (const line of dep.split('\n')) {
    const path = line.slice(0, line.indexOf(':'));
    const base = path.slice(path.lastIndexOf('/') + 1).replace(/\.ko(\.xz|\.zst|\.gz)?$/, '');
    if (base.replace(/-/g, '_') === want) return join(modulesDir, path);
  }
  return undefined;
}

/** A module's bytes: Debian 12 ships them uncompressed; later releases compress them with xz or zstd. */
export function readModule(path: string): Buffer {
  if (path.endsWith('.ko')) return readInput(path, 'elf');
  const tool = path.endsWith('.xz') ? 'xz' : path.endsWith('.zst') ? 'zstd' : 'gzip';
  const r = spawnSync(tool, ['-dc', path], { maxBuffer: 512 << 20 });
  if (r.status !== 0) throw new KlpError(`${tool} -dc ${path} failed: ${r.stderr?.toString().trim() ?? r.error?.message}`, { code: 'module-unreadable', file: path });
  return r.stdout;
}

const MAGICS: { magic: Buffer; tool: string }[] = [
  { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), tool: 'xz' },
  { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), tool: 'zstd' },
  { magic: Buffer.from([0x1f, 0x8b, 0x08]), tool: 'gzip' },
];

/**
 * vmlinux as an ELF file, decompressed once from the bzImage's payload
 * (as the kernel's scripts/extract-vmlinux does) and cached by the
 * vmlinuz's content hash. It has no symbols: kallsyms names its addresses.
 */
export function extractVmlinux(vmlinuz: string): string {
  const image = readInput(vmlinuz, 'elf', { what: 'vmlinuz' });
  if (image.length > 4 && image.readUInt32BE(0) === 0x7f454c46) return vmlinuz;
  const key = createHash('sha256').update(image).digest('hex').slice(0, 16);
  const dir = join(ensureCacheDir(), 'vmlinux');
  const out = join(dir, `vmlinux-${key}`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  for (const { magic, tool } of MAGICS) {
    for (let at = image.indexOf(magic); at >= 0; at = image.indexOf(magic, at + 1)) {
      // Trailing data after the stream makes the decompressors complain; what they wrote is whole.
      const r = spawnSync(tool, ['-dc'], { input: image.subarray(at), maxBuffer: 1 << 30 });
      const elf = r.stdout;
      if (elf && elf.length > 64 && elf.readUInt32BE(0) === 0x7f454c46) {
        const tmp = `${out}.${process.pid}.tmp`;
        writeFileSync(tmp, elf);
        renameSync(tmp, out);
        return out;
      }
    }
  }
  throw new KlpError(`found no compressed vmlinux (xz, zstd or gzip) in ${vmlinuz}`, { code: 'vmlinuz-unreadable', file: vmlinuz });
}
