import { newKernel, type SimSystem } from '../kernel/system.js';
import { copyState, events, type Entity, type ModelState } from './model.js';

/**
 * The model seen from a shell: whole commands (`modprobe X`, `rmmod X`,
 * `echo 0 > .../enabled`, `echo 1 > .../force`), each run to the end before
 * the next, as a person or a test on the real kernel types them. What the
 * checker explores is a superset (it also interleaves inside commands);
 * these are the orders a differential test can run on a real kernel and
 * the questions it can ask: "does the model consider this command possible
 * here?".
 */
export class CommandWalk {
  private readonly owner = (module: string): string => module;

  constructor(
    readonly entities: Entity[],
    readonly state: ModelState,
  ) {}

  /** The model's empty kernel: nothing loaded, no command used. */
  static start(sys: SimSystem, entities: Entity[]): CommandWalk {
    const kernel = newKernel(sys);
    kernel.interleaved = true;
    kernel.logging = false;
    return new CommandWalk(entities, { kernel, used: [...entities, ...entities].map(() => 0) });
  }

  /** The shell commands the model's events allow now (a modprobe's `@start` shown as the command). */
  commands(): string[] {
    return events(this.state, this.entities, this.owner)
      .map((e) => e.line)
      .filter((l) => !l.startsWith('@step') && !l.startsWith('@async'))
      .map((l) => l.replace(/^@start /, ''));
  }

  /**
   * Runs a command as the model does, then every step it started and every
   * asynchronous removal, oldest task first, until the kernel is quiescent.
   * False (and nothing changes) when the model has no such event here.
   */
  run(command: string): boolean {
    const ev = events(this.state, this.entities, this.owner).find((e) => e.line.replace(/^@start /, '') === command);
    if (!ev) return false;
    ev.apply(this.state);
    const k = this.state.kernel;
    for (;;) {
      const ready = k.readyTasks().sort((a, b) => a.id - b.id)[0];
      if (ready) k.step(ready);
      else if (k.pendingRemovals.length) k.runRemoval(k.pendingRemovals[0]!);
      else break;
    }
    k.events = [];
    k.finished.clear();
    return true;
  }

  copy(): CommandWalk {
    return new CommandWalk(this.entities, copyState(this.state));
  }
}

/**
 * Every order of whole commands the model allows from an empty kernel until
 * no command is left (each entity loaded and removed as often as its
 * `loads` allow), depth first, at most `limit` of them.
 */
export function commandOrders(sys: SimSystem, entities: Entity[], limit = 10_000): string[][] {
  const out: string[][] = [];
  const walk = (w: CommandWalk, path: string[]): void => {
    const next = w.commands();
    if (!next.length) {
      out.push(path);
      return;
    }
    for (const c of next) {
      if (out.length >= limit) return;
      const w2 = w.copy();
      w2.run(c);
      walk(w2, [...path, c]);
    }
  };
  walk(CommandWalk.start(sys, entities), []);
  return out;
}
