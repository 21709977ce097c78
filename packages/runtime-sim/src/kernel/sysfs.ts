import type { LivepatchCore } from './livepatch/core.js';

/** A file or directory under /sys/kernel/livepatch, as `ls -l` and `cat` show it. */
interface SysfsEntry {
  mode: string;
  /** What reading it gives; absent for directories and write-only files. */
  value?: string;
}

const ROOT = '/sys/kernel/livepatch/';

/**
 * The livepatch core's sysfs tree (kernel/livepatch/core.c): per patch
 * `enabled` (rw), `transition` (ro), `force` (wo), and per object
 * (`vmlinux` for vmlinux) a directory with `patched` (ro). A patch's
 * directory lives as long as the patch; an object's as long as it is linked
 * to its patch (upstream: all of objs[]; split: once its module added it).
 */
export function readLivepatchSysfs(lp: LivepatchCore, path: string): SysfsEntry | undefined {
  if (!path.startsWith(ROOT)) return undefined;
  const [patchName, ...rest] = path.slice(ROOT.length).replace(/\/+$/, '').split('/');
  const patch = patchName ? lp.findPatch(patchName) : undefined;
  if (!patch) return undefined;
  const dir: SysfsEntry = { mode: 'drwxr-xr-x' };
  if (rest.length === 0) return dir;
  if (rest.length === 1) {
    switch (rest[0]) {
      case 'enabled':
        return { mode: '-rw-r--r--', value: patch.enabled ? '1' : '0' };
      case 'transition':
        return { mode: '-r--r--r--', value: patch.loading || patch.stalled ? '1' : '0' };
      case 'force':
        return { mode: '--w-------' };
    }
  }
  const obj = patch.objects.find((o) => (o.name ?? 'vmlinux') === rest[0]);
  if (!obj || rest.length > 2) return undefined;
  if (rest.length === 1) return dir;
  return rest[1] === 'patched' ? { mode: '-r--r--r--', value: obj.patched ? '1' : '0' } : undefined;
}
