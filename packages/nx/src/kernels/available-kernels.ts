import { spawnSync } from 'node:child_process';
import { RELEASE } from '@klp-split/kernel-facts';

/**
 * The kernel releases whose headers apt offers (amd64 flavours), discovered
 * from the archive's package names: never a hard-coded ABI number.
 */
export function availableKernels(pattern = ''): string[] {
  const r = spawnSync('apt-cache', ['search', '--names-only', `^linux-headers-${pattern}`], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return [...r.stdout.matchAll(/^linux-headers-(\S+-amd64) - /gm)]
    .map((m) => m[1]!)
    // linux-headers-6.12-amd64 and the like are metapackages, not releases.
    .filter((rel) => RELEASE.test(rel) && /^[0-9]+\.[0-9]+\.[0-9]+/.test(rel))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}
