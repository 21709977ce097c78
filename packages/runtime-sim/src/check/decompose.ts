import type { SimSystem } from '../kernel/system.js';
import { newKernel } from '../kernel/system.js';
import type { Entity } from './model.js';
import { modelCheck, type CheckBudget, type CheckOptions, type CheckResult, type Counterexample } from './search.js';

interface SplitCheckOptions extends Omit<CheckOptions, 'entities' | 'budget'> {
  /** The livepatches (main modules): the first is loaded up to `patchLoads` times (2: the patch, then a reloaded copy). */
  patches: string[];
  targets: string[];
  patchLoads?: number;
  /**
   * Loads (and removals) of each target (default 2; 1 with a second patch:
   * two patches and a reloaded copy already interleave far more); a group
   * of dependent targets gets at most 1.
   */
  targetLoads?: number;
  budget?: CheckBudget;
  /** Explore all targets in one model instead of one model per group of dependent targets. */
  noReduction?: boolean;
}

export interface SplitCheckResult extends CheckResult {
  /** The groups of targets explored together (targets linked by exports stay together). */
  groups: string[][];
  /** Groups whose search finished. */
  groupsComplete: number;
}

/**
 * Checks a split livepatch against its targets, one model per group of
 * dependent targets.
 *
 * Why one target's model needs no other unrelated target (the reduction):
 * the events of two targets with no export between them (their own loads
 * and unloads, their coming handlers' requests, their per-object modules'
 * loads and asynchronous removals) touch disjoint state: each its own
 * modules, its own object in each patch, its own patched functions. They
 * commute, and neither enables or disables the other, so every invariant
 * about one target (each is about one target, or about the patch alone)
 * sees the same states whatever the others do in between. The one place the
 * others reach a target is through the patch they share: klp_enable_patch()
 * requests every target's part in turn and the first failure aborts the
 * whole patch. From a target's point of view that abort is "the patch's load
 * ended and its objects were freed", which its own model reaches too (the
 * patch loads, is disabled and removed while the target's requests are in
 * flight): the same shared and local states, so no violation is lost.
 * Targets one of which uses another's exports (or whose per-object modules
 * do) are not independent (kmod loads the exporter first, the exporter
 * cannot go while a user is loaded): they are explored together. A test
 * (model-check.test.ts) compares the reduced and the full search on the
 * same fixtures, with and without the guards.
 */
export function checkSplit(sys: SimSystem, opts: SplitCheckOptions): SplitCheckResult {
  const groups = opts.noReduction ? [opts.targets] : dependencyGroups(sys, opts.patches, opts.targets);
  if (groups.length === 0) groups.push([]);
  const t0 = performance.now();
  const total: SplitCheckResult = { states: 0, transitions: 0, violations: [], complete: true, depthCompleted: Infinity, depth: 0, ms: 0, heapBytes: 0, pinnedStates: 0, groups, groupsComplete: 0 };
  const found = new Map<string, Counterexample>();
  let statesLeft = opts.budget?.states;
  for (const [i, group] of groups.entries()) {
    const elapsed = performance.now() - t0;
    const msLeft = opts.budget?.ms !== undefined ? opts.budget.ms - elapsed : undefined;
    if ((msLeft !== undefined && msLeft <= 0) || (statesLeft !== undefined && statesLeft <= 0)) {
      total.complete = false;
      total.stoppedBy = msLeft !== undefined && msLeft <= 0 ? 'time' : 'states';
      break;
    }
    const targetLoads = opts.targetLoads ?? (opts.patches.length > 1 ? 1 : 2);
    const entities: Entity[] = [
      ...opts.patches.map((p, j) => ({ name: p, kind: 'patch' as const, loads: j === 0 ? (opts.patchLoads ?? 2) : 1 })),
      // Dependent targets interleave far more: one load (and removal) each keeps the group's search finite in practice.
      ...group.map((t) => ({ name: t, kind: 'target' as const, loads: group.length > 1 && !opts.noReduction ? Math.min(1, targetLoads) : targetLoads })),
    ];
    const progress = opts.onProgress && groups.length > 1 ? (line: string) => opts.onProgress!(`group ${i + 1}/${groups.length} (${group.join(', ')}): ${line}`) : opts.onProgress;
    const r = modelCheck(sys, { ...opts, entities, budget: { ms: msLeft, states: statesLeft, heapBytes: opts.budget?.heapBytes }, onProgress: progress });
    total.states += r.states;
    total.transitions += r.transitions;
    total.pinnedStates += r.pinnedStates;
    total.depth = Math.max(total.depth, r.depth);
    total.depthCompleted = Math.min(total.depthCompleted, r.depthCompleted);
    total.heapBytes = Math.max(total.heapBytes, r.heapBytes);
    if (statesLeft !== undefined) statesLeft -= r.states;
    for (const v of r.violations) {
      const key = `${v.code}:${v.message}`;
      const had = found.get(key);
      if (!had || had.lines.length > v.lines.length) found.set(key, v);
    }
    if (r.complete) total.groupsComplete++;
    else {
      total.complete = false;
      total.stoppedBy = r.stoppedBy;
      break;
    }
  }
  if (total.depthCompleted === Infinity) total.depthCompleted = 0;
  total.violations = [...found.values()].sort((a, b) => a.lines.length - b.lines.length || a.code.localeCompare(b.code));
  total.ms = performance.now() - t0;
  return total;
}

/** Targets linked by exports, directly or through their per-object modules, in the order given. */
function dependencyGroups(sys: SimSystem, patches: string[], targets: string[]): string[][] {
  const kernel = newKernel(sys);
  const group = new Map(targets.map((t) => [t, t]));
  const find = (t: string): string => {
    let r = t;
    while (group.get(r) !== r) r = group.get(r)!;
    return r;
  };
  const ownerOf = (module: string): string | undefined => {
    if (group.has(module)) return module;
    for (const p of patches) if (module.startsWith(`${p}__`) && group.has(module.slice(p.length + 2))) return module.slice(p.length + 2);
    return undefined;
  };
  for (const image of sys.images) {
    const owner = ownerOf(image.name);
    if (!owner) continue;
    for (const dep of kernel.dependencies(image)) {
      const other = ownerOf(dep);
      if (other && find(other) !== find(owner)) group.set(find(other), find(owner));
    }
  }
  const out = new Map<string, string[]>();
  for (const t of targets) {
    const root = find(t);
    if (!out.has(root)) out.set(root, []);
    out.get(root)!.push(t);
  }
  return [...out.values()];
}
