import { getHeapStatistics } from 'node:v8';
import type { LivepatchGuards } from '../kernel/livepatch/types.js';
import { newKernel, type SimSystem } from '../kernel/system.js';
import { checkInvariants, eventViolations } from '../scenario/invariants.js';
import { stateHash } from './canonical.js';
import { copyState, events, type Entity, type ModelState } from './model.js';

export interface CheckBudget {
  /** Stop after this many milliseconds. */
  ms?: number;
  /** Stop after this many distinct states. */
  states?: number;
  /** Stop when the JavaScript heap holds this many bytes (default: DEFAULT_HEAP_SHARE of V8's heap limit, always). */
  heapBytes?: number;
}

export type BudgetStop = 'time' | 'states' | 'memory';

/**
 * The share of V8's heap limit a search may fill before it stops: the states
 * of a level are kept whole, and running out of heap would end the process
 * with nothing reported.
 */
const DEFAULT_HEAP_SHARE = 0.6;

function defaultHeapBytes(): number {
  return Math.floor(getHeapStatistics().heap_size_limit * DEFAULT_HEAP_SHARE);
}

/** How often (in states) the heap is measured: the measurement is not free. */
const HEAP_CHECK_EVERY = 256;

export interface CheckOptions {
  entities: Entity[];
  budget?: CheckBudget;
  /** Test only: switch guards of the livepatch core off to show the checker finds their race. */
  guards?: Partial<LivepatchGuards>;
  /**
   * Tasks that never reach a safe point, as `object:function` (they sleep in
   * that function's old code): the patching transitions of patches that
   * patch it stall, and forcing them (`echo 1 > .../force`) becomes an event.
   */
  sleeping?: string[];
  /** A line now and then on long runs. */
  onProgress?: (line: string) => void;
  /** Milliseconds between progress lines (default 2000). */
  progressEvery?: number;
}

/** A violation with the shortest event sequence that reaches it, as scenario lines. */
export interface Counterexample {
  code: string;
  message: string;
  lines: string[];
}

export interface CheckResult {
  /** Distinct states reached (each expanded once). */
  states: number;
  /** Events executed. */
  transitions: number;
  /** Distinct violations (code and message), each with its shortest counterexample. */
  violations: Counterexample[];
  /** Every reachable state was expanded (no budget hit). */
  complete: boolean;
  /** What the search covered when it stopped: every state up to this many events from the start. */
  depthCompleted: number;
  /** Length of the longest shortest path among states reached. */
  depth: number;
  ms: number;
  /** Heap in use at the end (bytes). */
  heapBytes: number;
  /** States in which a forced transition pins a module (a forced patch's main or per-object module). */
  pinnedStates: number;
  /** Why it stopped early, when it did. */
  stoppedBy?: BudgetStop;
}

/**
 * Breadth-first search of the model's state space: each canonical state is
 * expanded once (a visited set of state digests), and because the search
 * goes level by level, the first path found to a violation is a shortest
 * one. The design's invariants are checked in every quiescent state (no
 * task in flight, no asynchronous work pending); what the kernel reports
 * while running (modprobe loops, refusals for a patch that was gone) is
 * checked after every event.
 */
export function modelCheck(sys: SimSystem, opts: CheckOptions): CheckResult {
  const t0 = performance.now();
  const kernel = newKernel(sys);
  kernel.interleaved = true;
  kernel.logging = false;
  Object.assign(kernel.livepatch.guards, opts.guards ?? {});
  for (const s of opts.sleeping ?? []) kernel.livepatch.sleeping.add(s);
  const root: ModelState = { kernel, used: [...opts.entities, ...opts.entities].map(() => 0) };
  const ownerOf = ownership(opts.entities);

  const parent: number[] = [-1];
  const line: string[] = [''];
  const visited = new Set<string>([stateHash(root)]);
  const found = new Map<string, Counterexample>();
  const result: CheckResult = { states: 1, transitions: 0, violations: [], complete: false, depthCompleted: 0, depth: 0, ms: 0, heapBytes: 0, pinnedStates: 0 };
  const pathTo = (index: number): string[] => {
    const out: string[] = [];
    for (let i = index; i > 0; i = parent[i]!) out.push(line[i]!);
    return out.reverse();
  };
  let level: { state: ModelState; index: number }[] = [{ state: root, index: 0 }];
  let lastProgress = t0;
  const every = opts.progressEvery ?? 2000;
  const heapLimit = opts.budget?.heapBytes ?? defaultHeapBytes();
  let expanded = 0;
  const overBudget = (): BudgetStop | undefined => {
    if (opts.budget?.states !== undefined && result.states >= opts.budget.states) return 'states';
    if (opts.budget?.ms !== undefined && performance.now() - t0 >= opts.budget.ms) return 'time';
    if (++expanded % HEAP_CHECK_EVERY === 0 && getHeapStatistics().used_heap_size >= heapLimit) return 'memory';
    return undefined;
  };

  search: while (level.length) {
    const next: typeof level = [];
    for (const { state, index } of level) {
      const stop = overBudget();
      if (stop) {
        result.stoppedBy = stop;
        break search;
      }
      for (const ev of events(state, opts.entities, ownerOf)) {
        const succ = copyState(state);
        ev.apply(succ);
        result.transitions++;
        const k = succ.kernel;
        const violations = k.quiescent() ? checkInvariants(k) : eventViolations(k.events);
        k.events = [];
        k.finished.clear();
        const hash = stateHash(succ);
        const fresh = !visited.has(hash);
        let at = -1;
        if (fresh || violations.length) {
          at = parent.length;
          parent.push(index);
          line.push(ev.line);
        }
        for (const v of violations) {
          const key = `${v.code}:${v.message}`;
          if (!found.has(key)) found.set(key, { code: v.code, message: v.message, lines: pathTo(at) });
        }
        if (!fresh) continue;
        visited.add(hash);
        result.states++;
        if (k.livepatch.pinned.size) result.pinnedStates++;
        next.push({ state: succ, index: at });
      }
      const now = performance.now();
      if (opts.onProgress && now - lastProgress >= every) {
        lastProgress = now;
        opts.onProgress(`model check: ${result.states} states, ${result.transitions} transitions, depth ${result.depthCompleted + 1}, ${found.size} violation(s), ${Math.round((now - t0) / 1000)} s`);
      }
    }
    if (next.length) result.depth = result.depthCompleted + 1;
    result.depthCompleted++;
    level = next;
  }
  if (!result.stoppedBy) {
    result.complete = true;
    result.depthCompleted = result.depth;
  }
  result.violations = [...found.values()];
  result.ms = performance.now() - t0;
  result.heapBytes = process.memoryUsage().heapUsed;
  return result;
}

/**
 * Which entity a module's work belongs to: a target's own name, a per-object
 * module `<patch>__<target>` to its target, anything else to itself.
 */
function ownership(entities: Entity[]): (module: string) => string {
  const targets = new Set(entities.filter((e) => e.kind === 'target').map((e) => e.name));
  return (module) => {
    const split = /^.+?__(.+)$/.exec(module);
    if (split && targets.has(split[1]!)) return split[1]!;
    return module;
  };
}
