import { createHash } from 'node:crypto';
import type { SimKernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/tasks.js';
import type { ModelState } from './model.js';

/**
 * The canonical form of a model state: what decides the kernel's future
 * behaviour, and nothing else. Left out: the log, task ids and load stamps
 * (a continuation's stamp only matters as "still the same patch load" or
 * not, and a patch reloaded later never gets an old stamp back), module
 * addresses (the module area is first-fit and far larger than any model).
 * Orders that do not matter are sorted: modules, a patch's objects, the
 * pending removals (the work items may run in any order). The patch list
 * keeps its order (klp_module_coming scans it in order).
 */
function canonical(s: ModelState): string {
  const k = s.kernel;
  const parts: string[] = [s.used.join(',')];
  for (const name of [...k.modules.keys()].sort()) {
    const m = k.modules.get(name)!;
    parts.push(`m ${name} ${m.state}${m.klpAlive ? '*' : ''} ${m.refcnt} ${[...m.uses].sort().join(',')}`);
  }
  for (const p of k.livepatch.patches) {
    const objs = p.objects.map((o) => `${o.name ?? 'vmlinux'}@${o.carrier.name}${o.patched ? '+' : ''}`).sort();
    parts.push(`p ${p.name} ${p.enabled ? 'E' : ''}${p.loading ? 'L' : ''}${p.stalled ? 'S' : ''}${p.replace ? 'R' : ''}${p.forced ? 'F' : ''} ${objs.join(',')}`);
  }
  parts.push(`f ${[...k.livepatch.patchedFuncs].map(([f, p]) => `${f}=${p}`).sort().join(',')}`);
  parts.push(`r ${[...k.pendingRemovals].sort().join(',')}`);
  parts.push(`pin ${[...k.livepatch.pinned].map(([m, t]) => `${m}=${t ?? ''}`).sort().join(',')}`);
  const tasks = [...k.tasks.values()].filter((t) => t.parent === undefined).map((t) => taskKey(k, t)).sort();
  parts.push(`t ${tasks.join(';')}`);
  return parts.join('\n');
}

function taskKey(k: SimKernel, t: Task): string {
  let key = `${t.module}/${t.phase}/${t.command ?? ''}/${t.requested ?? ''}/${t.childErr ?? ''}/${t.deps?.join(',') ?? ''}`;
  if (t.cont) {
    const { stamp, ...rest } = t.cont as { stamp?: number };
    let stampKey = '';
    if (stamp !== undefined && t.cont.kind === 'coming') {
      const p = k.livepatch.findPatch(t.cont.patch);
      stampKey = !p ? 'gone' : p.loadedAt === stamp ? 'same' : 'other';
    }
    key += `/${JSON.stringify(rest)}/${stampKey}`;
  }
  if (t.child !== undefined) key += `{${taskKey(k, k.tasks.get(t.child)!)}}`;
  return key;
}

/**
 * A 128-bit digest of the canonical form, what the visited set holds (two
 * different states colliding is about as likely as 2^-100 for a billion
 * states).
 */
export function stateHash(s: ModelState): string {
  return createHash('md5').update(canonical(s)).digest('base64');
}
