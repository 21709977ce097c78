import type { SimKernel } from '../kernel/kernel.js';
import { pins } from '../kernel/loader.js';

/** A broken rule of the split design found after a step. */
export interface Violation {
  code: string;
  message: string;
}

/**
 * What must hold between steps in a kernel carrying the split series:
 * - no function is patched in an object that is not loaded;
 * - a per-object module is loaded exactly when its target and its patch are;
 * - no module holds references nobody accounts for;
 * - klp_module_coming never loops on modprobe;
 * - a module a forced transition pinned stays loaded for good.
 */
export function checkInvariants(kernel: SimKernel): Violation[] {
  const out: Violation[] = [];
  const lp = kernel.livepatch;
  for (const key of lp.patchedFuncs.keys()) {
    const object = key.slice(0, key.indexOf(':'));
    if (object !== 'vmlinux' && !kernel.isLoaded(object)) {
      out.push({ code: 'patched-while-unloaded', message: `'${key.slice(object.length + 1)}' is patched in '${object}', which is not loaded` });
    }
  }
  for (const mod of kernel.modules.values()) {
    const split = /^(.+?)__(.+)$/.exec(mod.name);
    if (!split || !mod.image.isLivepatch) continue;
    const [, patch, object] = split;
    // Pinned by a forced transition: loaded for good without its patch (checked below).
    if (lp.pinned.has(mod.name)) continue;
    const linked = lp.findPatch(patch!)?.objects.some((o) => o.name === object && o.carrier === mod);
    if (!kernel.isLoaded(object!)) out.push({ code: 'per-object-without-target', message: `'${mod.name}' is loaded while '${object}' is not` });
    else if (!lp.findPatch(patch!)) out.push({ code: 'per-object-without-patch', message: `'${mod.name}' is loaded while patch '${patch}' is not` });
    else if (!linked) out.push({ code: 'stale-per-object-module', message: `'${mod.name}' is loaded but not linked to patch '${patch}'` });
  }
  for (const patch of lp.patches) {
    if (!patch.enabled) continue;
    for (const name of patch.image.objNames) {
      const part = `${patch.name}__${name}`;
      if (kernel.isLoaded(name) && kernel.installed(part) && !kernel.isLoaded(part)) {
        out.push({ code: 'per-object-not-loaded', message: `'${name}' and patch '${patch.name}' are loaded but '${part}' is not` });
      }
    }
  }
  for (const name of lp.pinned.keys()) {
    if (kernel.isLoaded(name)) continue;
    out.push({ code: 'forced-module-released', message: `'${name}' was removed though a forced transition pins it for good` });
  }
  for (const mod of kernel.modules.values()) {
    const expected = expectedRefs(kernel, mod.name);
    if (mod.refcnt !== expected) out.push({ code: 'leaked-reference', message: `'${mod.name}' holds ${mod.refcnt} references, ${expected} accounted for` });
  }
  out.push(...eventViolations(kernel.events));
  return out;
}

/**
 * What the kernel reports while it runs that breaks the design: klp_module_coming
 * looping on modprobe, and a module refused for a patch that was gone or had
 * been reloaded when the request failed (spec §4, races); and what it lets
 * pass silently though the patch is broken: livepatch relocations for an
 * object the patch does not have, never written; and a split module refused
 * where the same livepatch as one classic module would load (the patch
 * loaded before its target, a target loaded again: the placement rule).
 */
const VIOLATION_EVENTS = new Set(['modprobe-loop', 'modprobe-deadlock', 'refused-for-gone-patch', 'refused-for-reloaded-patch', 'klp-rela-object-unknown', 'split-refused-classic-loads']);

export function eventViolations(events: { code: string; message: string }[]): Violation[] {
  return events.filter((e) => VIOLATION_EVENTS.has(e.code)).map((e) => ({ code: e.code, message: e.message }));
}

/** References a module should hold: users of its exports, and the livepatch core's pins. */
function expectedRefs(kernel: SimKernel, name: string): number {
  let refs = 0;
  if (kernel.livepatch.guards.forcedPin && kernel.livepatch.pinned.has(name)) refs++;
  const owner = kernel.modules.get(name);
  for (const m of kernel.modules.values()) if (m.uses.has(name) && owner && pins(m, owner)) refs++;
  for (const p of kernel.livepatch.patches) {
    if (p.module.name === name && p.enabled) refs++;
    for (const o of p.objects) if (o.carrier.name === name && o.carrier !== p.module) refs++;
  }
  return refs;
}
