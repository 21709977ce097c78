/**
 * Work in flight in the simulated kernel, as plain data so that a kernel
 * state can be copied (the model checker expands each state once).
 *
 * A task runs in atomic steps; between two steps the kernel holds neither
 * klp_mutex nor module_mutex, so anything else may happen. A task that
 * waits for a module it requested (request_module() / modprobe's
 * dependencies) has a child task and resumes, in a step of its own, with
 * the child's result.
 */
type TaskPhase =
  /** modprobe: load the dependencies (children), then the module itself. */
  | 'modprobe'
  /** load_module() up to MODULE_STATE_COMING and the first coming notifier step. */
  | 'load'
  /** A coming notifier resumes after its request_module(). */
  | 'coming'
  /** The module's init begins (do_init_module()). */
  | 'init'
  /** The module's init resumes after its request_module(). */
  | 'init-resume';

export interface Task {
  id: number;
  module: string;
  phase: TaskPhase;
  /** The shell command that started it; undefined for request_module() and dependencies. */
  command?: 'modprobe' | 'insmod';
  /** The module it requested (request_module()) and waits for. */
  requested?: string;
  parent?: number;
  /** The task it waits for. */
  child?: number;
  /** What the finished child returned, for the resume step. */
  childErr?: number;
  /** modprobe: dependencies still to load, in order. */
  deps?: string[];
  /** The livepatch core's state across a request_module() (plain data). */
  cont?: Continuation;
}

/** Where a coming handler or a module init stopped to request a module. */
export type Continuation =
  | { kind: 'coming'; attempts: Record<string, number>; patch: string; stamp: number; part: string }
  /** recheck: a request of klp_enable_patch()'s check loop (the module had gone away), which checks `index` again. */
  | { kind: 'enable'; patch: string; index: number; part: string; recheck?: true };

/** What a step of a coming notifier or of a module init returns: done (0 or an error) or a module to request. */
export type StepResult = { err: number } | { request: string; cont: Continuation };
