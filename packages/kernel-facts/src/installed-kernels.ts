import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, kallsymsDumpFile, UsageError } from '@klp-split/core';

/**
 * The kernels klp-split builds and verifies against, one per Debian release
 * string (e.g. 6.1.0-57-amd64, 6.12.113+deb12-cloud-amd64): the headers
 * package's tree under /usr/src, and the /proc/kallsyms dump taken by booting
 * that release's linux-image under qemu (`klp-split kernel add`).
 */
export interface InstalledKernel {
  release: string;
  /** The kbuild tree (linux-headers-<release>). */
  kdir: string;
  /** The kallsyms dump, when one was taken. */
  kallsyms?: string;
}

/** A release string as Debian names kernels: no path separators, nothing a shell or path would read twice. */
export const RELEASE = /^[0-9]+\.[0-9]+[A-Za-z0-9.+_~-]*$/;

/** Where the headers packages put their trees; overridable so tests can stand up a tree elsewhere. */
function headersRoot(): string {
  return process.env.KLP_HEADERS_ROOT ?? '/usr/src';
}

export function checkRelease(release: string): string {
  if (!RELEASE.test(release)) throw new UsageError(`'${release}' is not a kernel release (like 6.1.0-57-amd64)`);
  return release;
}

/**
 * Where `kernel add` unpacks a release's headers packages when they are not
 * installed on the host (installing 6.12's headers would pull in its image,
 * initramfs-tools and a systemd upgrade): <cache>/kernels/<release>/root.
 */
export function unpackRoot(release: string): string {
  return join(cacheDir(), 'kernels', release, 'root');
}

/** The release's headers tree: the host's package when installed, else the unpacked one. */
export function headersDir(release: string): string | undefined {
  return [join(headersRoot(), `linux-headers-${release}`), join(unpackRoot(release), 'usr/src', `linux-headers-${release}`)].find((d) => existsSync(join(d, 'Module.symvers')));
}

function kernelAt(release: string): InstalledKernel | undefined {
  const kdir = headersDir(release);
  if (!kdir) return undefined;
  const kallsyms = kallsymsDumpFile(cacheDir(), release);
  return { release, kdir, ...(existsSync(kallsyms) ? { kallsyms } : {}) };
}

/** An installed kernel, or a usage error saying how to install it. */
export function installedKernel(release: string): InstalledKernel {
  const k = kernelAt(checkRelease(release));
  if (!k) throw new UsageError(`kernel ${release} is not installed (no linux-headers-${release} with Module.symvers)`, `run 'klp-split kernel add ${release}'`);
  return k;
}

/** Every kernel whose headers are installed, oldest release first. */
export function installedKernels(): InstalledKernel[] {
  const host = existsSync(headersRoot()) ? readdirSync(headersRoot()).filter((d) => d.startsWith('linux-headers-')).map((d) => d.slice('linux-headers-'.length)) : [];
  const unpacked = existsSync(join(cacheDir(), 'kernels')) ? readdirSync(join(cacheDir(), 'kernels')) : [];
  return [...new Set([...host, ...unpacked])]
    .filter((r) => RELEASE.test(r))
    .map((r) => kernelAt(r))
    .filter((k): k is InstalledKernel => k !== undefined)
    .sort((a, b) => a.release.localeCompare(b.release, 'en', { numeric: true }));
}
