import type { SimKernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/tasks.js';

/**
 * The model the checker explores: a simulated kernel whose operations stop
 * at the kernel's interleaving points (tasks.ts), and the events that can
 * happen in a state:
 * - a shell loads a target or a patch (modprobe), at most `loads` times each
 *   (2 for a patch: the patch, then a reloaded copy);
 * - a shell unloads a loaded module (rmmod) or disables a patch, at most
 *   `loads` times each too: kmod may load a module again by itself (a
 *   per-object module that uses its patch's exports brings the patch back),
 *   so bounding the shell's loads alone would not bound the model;
 * - a task in flight takes its next step: a request_module() returns, a
 *   coming handler or klp_enable_patch() re-takes klp_mutex, a module's init
 *   runs;
 * - the asynchronous removal of a freed per-object module runs;
 * - a shell forces a patch whose transition a sleeping task blocks
 *   (`echo 1 > .../force`; only with a task that never reaches a safe point,
 *   CheckOptions.sleeping).
 * Each event is written as the scenario line that replays it.
 */
export interface Entity {
  name: string;
  kind: 'target' | 'patch';
  /** How many times a shell may load it. */
  loads: number;
}

export interface ModelState {
  kernel: SimKernel;
  /** Per entity, in the order of the entities: shell loads used; then, after all of them, shell removals used. */
  used: number[];
}

interface ModelEvent {
  /** The scenario line that replays the event. */
  line: string;
  /** The entity it belongs to (for the reduction), or undefined for kernel work shared by all. */
  owner: string;
  apply(s: ModelState): void;
}

/** A task's scenario name: `module`, or `module#n` when older tasks of the same module are also ready. */
function stepLine(kernel: SimKernel, task: Task): string {
  const n = kernel.readyFor(task.module).findIndex((t) => t.id === task.id) + 1;
  return `@step ${task.module}${n > 1 ? `#${n}` : ''}`;
}

/** Every event possible in a state. */
export function events(s: ModelState, entities: Entity[], ownerOf: (module: string) => string): ModelEvent[] {
  const k = s.kernel;
  const out: ModelEvent[] = [];
  const busy = new Set([...k.tasks.values()].filter((t) => t.parent === undefined).map((t) => t.module));
  entities.forEach((e, i) => {
    const mod = k.modules.get(e.name);
    if (!mod && !busy.has(e.name) && s.used[i]! < e.loads) {
      out.push({
        line: `@start modprobe ${e.name}`,
        owner: e.name,
        apply: (t) => {
          t.used[i]!++;
          t.kernel.step(t.kernel.startModprobe(e.name));
        },
      });
    }
    if (e.kind === 'patch' && k.livepatch.findPatch(e.name)?.stalled) {
      out.push({ line: `echo 1 > /sys/kernel/livepatch/${e.name}/force`, owner: e.name, apply: (t) => void t.kernel.writeForce(e.name) });
    }
    const removals = entities.length + i;
    if (mod?.state === 'LIVE' && s.used[removals]! < e.loads) {
      if (e.kind === 'patch' && k.livepatch.findPatch(e.name)?.enabled) {
        out.push({ line: `echo 0 > /sys/kernel/livepatch/${e.name}/enabled`, owner: e.name, apply: (t) => void t.kernel.writeEnabled(e.name, 0) });
      }
      if (mod.refcnt === 0 && k.holders(e.name).length === 0) {
        out.push({
          line: `rmmod ${e.name}`,
          owner: e.name,
          apply: (t) => {
            t.used[removals]!++;
            t.kernel.rmmodNow(e.name);
          },
        });
      }
    }
  });
  for (const task of k.readyTasks()) {
    const line = stepLine(k, task);
    const id = task.id;
    out.push({ line, owner: ownerOf(task.module), apply: (t) => t.kernel.step(t.kernel.tasks.get(id)!) });
  }
  for (const name of new Set(k.pendingRemovals)) {
    out.push({ line: `@async ${name}`, owner: ownerOf(name), apply: (t) => t.kernel.runRemoval(name) });
  }
  return out;
}

export function copyState(s: ModelState): ModelState {
  return { kernel: s.kernel.clone(), used: [...s.used] };
}
