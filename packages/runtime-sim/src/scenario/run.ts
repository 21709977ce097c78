import type { SimKernel } from '../kernel/kernel.js';
import { checkInvariants, eventViolations, type Violation } from './invariants.js';
import type { Step } from './parse.js';
import { strerror } from '../kernel/errno.js';
import { readLivepatchSysfs } from '../kernel/sysfs.js';

/** A mismatch between a sysfs file and what the scenario expects of it, or undefined. */
function checkSysfs(kernel: SimKernel, path: string, expected: string): string | undefined {
  const entry = readLivepatchSysfs(kernel.livepatch, path);
  kernel.log.push(`[sysfs] ${path}: ${entry ? `${entry.mode}${entry.value !== undefined ? ` ${entry.value}` : ''}` : 'No such file or directory'}`);
  if (expected === 'absent') return entry ? `${path} exists` : undefined;
  if (!entry) return `${path} does not exist`;
  const isMode = /^[d-][rwx-]{9}$/.test(expected);
  const actual = isMode ? entry.mode : entry.value;
  return actual === expected ? undefined : `${path}: expected ${expected}, found ${actual ?? '(not readable)'}`;
}

export interface ScenarioResult {
  transcript: string[];
  /** Invariant violations, with the step (1-based line or index) after which they appeared. */
  violations: (Violation & { after: string })[];
}

/** Runs steps in a simulated kernel, checking the split design's invariants after each. */
export function runScenario(kernel: SimKernel, steps: Step[]): ScenarioResult {
  const violations: ScenarioResult['violations'] = [];
  const seen = new Set<string>();
  const report = (v: Violation, after: string): void => {
    const key = `${v.code}:${v.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    violations.push({ ...v, after });
  };
  for (const [i, step] of steps.entries()) {
    if (!kernel.interleaved) kernel.race = step.race ?? false;
    const events = kernel.events.length;
    switch (step.kind) {
      case 'modprobe':
        if (step.start) kernel.step(kernel.startModprobe(step.module, step.params));
        else kernel.modprobeCommand(step.module, step.params);
        break;
      case 'insmod':
        if (step.start) {
          const task = kernel.startInsmod(step.module);
          if (task) kernel.step(task);
        } else kernel.insmodCommand(step.module);
        break;
      case 'interleave':
        kernel.interleaved = true;
        break;
      case 'step': {
        const task = kernel.readyFor(step.module)[step.nth - 1];
        if (task) kernel.step(task);
        else report({ code: 'scenario-no-task', message: `line ${step.line}: no task working on '${step.module}' can take a step` }, `line ${step.line}`);
        break;
      }
      case 'async':
        kernel.runRemoval(step.module);
        break;
      case 'rmmod':
        kernel.rmmodCommand(step.module);
        break;
      case 'disable':
      case 'enable':
        kernel.enabledCommand(step.patch, step.kind === 'enable' ? 1 : 0);
        break;
      case 'force':
        kernel.forceCommand(step.patch);
        break;
      case 'callback':
        kernel.livepatch.callbackReturns.set(`${step.module}:${step.callback}`, step.ret);
        kernel.log.push(`% echo ${step.ret} > /sys/module/${step.module}/parameters/${step.callback}_ret`);
        break;
      case 'posted-guard-defect':
        kernel.livepatch.postedGuardDefect = true;
        break;
      case 'sleeping':
        kernel.livepatch.sleeping.add(`${step.object}:${step.func}`);
        break;
      case 'sysfs': {
        kernel.settle();
        const problem = checkSysfs(kernel, step.path, step.expected);
        if (problem) violations.push({ code: 'sysfs-mismatch', message: problem, after: `line ${step.line}` });
        break;
      }
      case 'ftrace-enabled': {
        // What the selftests' set_ftrace_enabled() writes to the kernel log.
        const err = kernel.setFtraceEnabled(step.value);
        kernel.log.push(err ? `livepatch: sysctl: setting key "kernel.ftrace_enabled": ${strerror(err)}` : `livepatch: kernel.ftrace_enabled = ${kernel.ftraceEnabled ? 1 : 0}`);
        break;
      }
    }
    for (const v of eventViolations(kernel.events.slice(events))) report(v, `line ${step.line}`);
    // Invariants hold between commands, once asynchronous work is done; a racing next command comes first.
    // Interleaved, they hold whenever nothing is in flight.
    if (kernel.interleaved) {
      if (!kernel.quiescent()) continue;
    } else {
      if (steps[i + 1]?.race) continue;
      kernel.settle();
    }
    for (const v of checkInvariants(kernel)) report(v, `line ${step.line}`);
  }
  for (const e of kernel.events) {
    if (e.code !== 'stale-per-object-module' || seen.has(e.code)) continue;
    seen.add(e.code);
    violations.push({ code: e.code, message: e.message, after: 'the run' });
  }
  return { transcript: kernel.log, violations };
}
