import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSplit, CommandWalk, counterexampleScenario, loadSplitSystem, newKernel, parseScenario, runScenario, type Entity, type LivepatchGuards, type SimSystem } from '@klp-split/runtime-sim';
import { removeDir, ROOT, tempDir } from '../helpers/env.js';
import { builtSources } from '../helpers/fixtures.js';
import { klpSplitInProcess } from '../helpers/in-process.js';
import { splitAndBuilt } from '../helpers/split-built.js';

/**
 * Issue 14: a second patch in the model check (a cumulative v2 that
 * replaces v1, with a reloaded copy of the first), and forced transitions:
 * with a task that never reaches a safe point, `echo 1 > .../force` is an
 * event; a forced replace pins the replaced patch's main module and its
 * per-object modules for good (its target going releases nothing). The
 * target and both splits are shared fixtures keyed by their sources; verify
 * and simulate run in this process (model-check.test.ts runs them through
 * the command line).
 */
const FIXTURES = join(ROOT, 'test/fixtures/livepatches');
const V1 = 'klpr_cumul_v1';
const V2 = 'klpr_cumul_v2';
const TARGET = 'klpr_target';
/** A task sleeping in vmlinux's cmdline_proc_show, which both patches replace: their patching transitions stall. */
const SLEEPING = ['vmlinux:cmdline_proc_show'];
const force = (p: string): string => `echo 1 > /sys/kernel/livepatch/${p}/force`;

describe('model check with a cumulative v2 and forced transitions', () => {
  let work: string;
  let v1: string;
  let v2: string;
  let target: string;
  let sys: SimSystem;

  beforeAll(async () => {
    work = tempDir('replace-force');
    const text = (name: string): string => readFileSync(join(FIXTURES, name, `${name}.c`), 'utf8');
    const [targets, split] = await Promise.all([
      builtSources('replace-force-target', { [`${TARGET}.c`]: readFileSync(join(FIXTURES, 'targets', `${TARGET}.c`), 'utf8') }),
      splitAndBuilt('replace-force-splits', { 'klpr-cumul-v1.c': text('klpr-cumul-v1'), 'klpr-cumul-v2.c': text('klpr-cumul-v2') }),
    ]);
    target = join(targets, `${TARGET}.ko`);
    v1 = split('klpr-cumul-v1');
    v2 = split('klpr-cumul-v2');
    const loaded = loadSplitSystem(v1, [target]);
    sys = { ...loaded.sys, images: [...loaded.sys.images, ...loadSplitSystem(v2, []).parts.map((p) => p.image)] };
  }, 20 * 60_000);
  afterAll(() => removeDir(work));

  it('verify --also: v2 with v1 is searched completely, replace included, and finds nothing', async () => {
    const alone = JSON.parse((await klpSplitInProcess(['verify', v2, '--target', target, '--format', 'json'])).stdout).exploration;
    const r = await klpSplitInProcess(['verify', v2, '--target', target, '--also', v1, '--format', 'json']);
    expect(r.code, r.stdout).toBe(0);
    const e = JSON.parse(r.stdout).exploration;
    expect(e.patches).toEqual([V2, V1]);
    expect(e.complete).toBe(true);
    expect(e.violations).toBe(0);
    expect(e.states).toBeGreaterThan(alone.states * 2);
    const bad = await klpSplitInProcess(['verify', v2, '--target', target, '--also', dirname(target)]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not a split livepatch directory');
  });

  it('the model replaces v1 with v2: its per-object module goes, its main module stays for rmmod', () => {
    const entities: Entity[] = [
      { name: V2, kind: 'patch', loads: 2 },
      { name: V1, kind: 'patch', loads: 1 },
      { name: TARGET, kind: 'target', loads: 1 },
    ];
    const w = CommandWalk.start(sys, entities);
    for (const c of [`modprobe ${TARGET}`, `modprobe ${V1}`]) expect(w.run(c), c).toBe(true);
    expect(w.state.kernel.isLoaded(`${V1}__${TARGET}`)).toBe(true);
    expect(w.run(`modprobe ${V2}`)).toBe(true);
    const k = w.state.kernel;
    expect(k.livepatch.patches.map((p) => p.name)).toEqual([V2]);
    expect(k.isLoaded(`${V1}__${TARGET}`)).toBe(false);
    expect(k.isLoaded(`${V2}__${TARGET}`)).toBe(true);
    expect(w.commands()).toContain(`rmmod ${V1}`);
  });

  const check = (guards: Partial<LivepatchGuards>) => checkSplit(sys, { patches: [V1, V2], targets: [TARGET], sleeping: SLEEPING, guards });

  it('forced transitions: the search reaches forced states, and with the pins in place finds nothing', () => {
    const r = check({});
    expect(r.complete).toBe(true);
    expect(r.violations).toEqual([]);
    expect(r.pinnedStates).toBeGreaterThan(0);
    // Without a task that blocks a transition there is nothing to force: no pinned state at all.
    expect(checkSplit(sys, { patches: [V1, V2], targets: [TARGET] }).pinnedStates).toBe(0);
  });

  it('verify --sleeping: the same search through the command line, clean and complete (the text report)', async () => {
    const r = await klpSplitInProcess(['verify', v2, '--target', target, '--also', v1, '--sleeping', SLEEPING[0]!]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^model check of the patch with ${V1} \\(loaded once each\\) and 1 target\\(s\\) .*: \\d+ states, \\d+ transitions, 0 distinct violation\\(s\\), complete, \\d+ ms$`, 'm'));
    expect(r.stdout).toContain(`verify: ${V2}: OK`);
    const bad = await klpSplitInProcess(['verify', v2, '--target', target, '--sleeping', 'cmdline_proc_show']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--sleeping 'cmdline_proc_show' is not <object>:<function>");
  });

  it('a forced replace pins v1 and its per-object module for good, even when the target goes', () => {
    const entities: Entity[] = [
      { name: V1, kind: 'patch', loads: 1 },
      { name: V2, kind: 'patch', loads: 1 },
      { name: TARGET, kind: 'target', loads: 1 },
    ];
    const kernel = newKernel(sys);
    kernel.interleaved = true;
    kernel.logging = false;
    // A task sleeps in the function only v2 patches: v1 goes through, v2's transition stalls. (One sleeping in a
    // function v1 patched would not block v2: the stack check then looks for v1's new function, which is free.)
    kernel.livepatch.sleeping.add(`${TARGET}:klpr_target_write`);
    const w = new CommandWalk(entities, { kernel, used: [0, 0, 0, 0, 0, 0] });
    expect(w.run(`modprobe ${TARGET}`)).toBe(true);
    expect(w.run(`modprobe ${V1}`)).toBe(true);
    expect(kernel.livepatch.findPatch(V1)?.stalled).toBeFalsy();
    expect(w.commands()).not.toContain(force(V1));
    expect(w.run(`modprobe ${V2}`)).toBe(true);
    expect(kernel.livepatch.findPatch(V2)?.stalled).toBe(true);
    expect(kernel.livepatch.pinned.size).toBe(0);
    expect(w.run(force(V2))).toBe(true);
    expect(kernel.livepatch.patches.map((p) => p.name)).toEqual([V2]);
    expect(Object.fromEntries(kernel.livepatch.pinned)).toEqual({ [V1]: null, [`${V1}__${TARGET}`]: TARGET });
    expect(kernel.isLoaded(`${V1}__${TARGET}`)).toBe(true);
    expect(w.commands()).not.toContain(`rmmod ${V1}`);
    // The target goes: v1's patch is off the list, so nothing releases its per-object module (the split kernel).
    expect(w.run(`rmmod ${TARGET}`)).toBe(true);
    expect(kernel.isLoaded(`${V1}__${TARGET}`)).toBe(true);
    expect(kernel.isLoaded(V1)).toBe(true);
    expect(Object.fromEntries(kernel.livepatch.pinned)).toEqual({ [V1]: null, [`${V1}__${TARGET}`]: TARGET });
  });

  it('without the pin (a test-only guard) the checker finds the forced module released, and simulate replays it', async () => {
    const guards = { forcedPin: false };
    const r = check(guards);
    expect(r.complete).toBe(true);
    const codes = new Set(r.violations.map((v) => v.code));
    expect(codes.has('forced-module-released')).toBe(true);
    const perObject = r.violations.find((v) => v.code === 'forced-module-released' && v.message.startsWith(`'${V1}__${TARGET}'`))!;
    expect(perObject.message).toBe(`'${V1}__${TARGET}' was removed though a forced transition pins it for good`);
    expect(perObject.lines).toContain(force(V2));
    expect(perObject.lines.at(-1)).toBe(`@async ${V1}__${TARGET}`);
    const scenario = counterexampleScenario(perObject, { sleeping: SLEEPING });
    expect(scenario).toContain('@sleeping vmlinux cmdline_proc_show');
    const kernel = newKernel(sys);
    Object.assign(kernel.livepatch.guards, guards);
    const replayed = runScenario(kernel, parseScenario(scenario, 'forced.scenario'));
    expect(replayed.violations.map((v) => v.code)).toContain('forced-module-released');
    expect(replayed.transcript).toContain('livepatch: forcing remaining tasks to the patched state');
    // The same events with the pin in place: no violation, and v1 cannot be removed.
    const pinned = runScenario(newKernel(sys), parseScenario(`${scenario}rmmod ${V1}\n`, 'forced.scenario'));
    expect(pinned.violations).toEqual([]);
    expect(pinned.transcript).toContain(`rmmod: ERROR: Module ${V1} is in use`);
  });

  it('simulate: the force write outside a transition is refused as the kernel refuses it', async () => {
    const file = join(work, 'force.scenario');
    writeFileSync(file, `@sleeping vmlinux cmdline_proc_show\nmodprobe ${TARGET}\n${force(V1)}\nmodprobe ${V1}\n@sysfs /sys/kernel/livepatch/${V1}/transition 1\n${force(V1)}\n@sysfs /sys/kernel/livepatch/${V1}/transition 0\n`);
    const r = await klpSplitInProcess(['simulate', v1, '--target', target, '--scenario', file]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toContain(`/sys/kernel/livepatch/${V1}/force: No such file or directory`);
    expect(lines).toContain('livepatch: forcing remaining tasks to the patched state');
    expect(lines.indexOf(`livepatch: '${V1}': patching complete`)).toBeGreaterThan(lines.indexOf('livepatch: forcing remaining tasks to the patched state'));
  });

  it('a per-object module that went away between modprobe and the check is loaded again (kernel/patches/0006)', () => {
    // v2 removed and loaded again while its old per-object module waits for its removal: modprobe finds the old
    // module and returns, the removal runs, and the check after the requests finds nothing carrying the object.
    const lines = [
      '@interleave',
      `@start modprobe ${V2}`,
      `@start modprobe ${TARGET}`,
      `@step ${V2}`,
      `@step ${TARGET}`,
      `@step ${V2}__${TARGET}`,
      `@step ${V2}__${TARGET}`,
      `@step ${V2}`,
      `echo 0 > /sys/kernel/livepatch/${V2}/enabled`,
      `rmmod ${V2}`,
      `@start modprobe ${V2}`,
      `@step ${V2}`,
      `@step ${V2}__${TARGET}`,
      `@async ${V2}__${TARGET}`,
      `@step ${V2}`,
    ];
    const kernel = newKernel(sys);
    const before = runScenario(kernel, parseScenario(`${lines.join('\n')}\n`, 'vanished.scenario'));
    expect(before.transcript.filter((l) => l === `[request_module] ${V2}__${TARGET}`)).toHaveLength(3);
    expect(kernel.events.map((e) => e.code)).toContain('per-object-module-vanished');
    const rest = [`@step ${V2}__${TARGET}`, `@step ${V2}__${TARGET}`, `@step ${V2}`];
    const after = runScenario(newKernel(sys), parseScenario(`${[...lines, ...rest].join('\n')}\n`, 'vanished.scenario'));
    expect(after.violations).toEqual([]);
    expect(after.transcript).toContain(`livepatch: '${V2}': patching complete`);
  });
});
