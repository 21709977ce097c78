import type { SimKernel } from '../kernel/kernel.js';
import { checkInvariants, type Violation } from './invariants.js';
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
  for (const [i, step] of steps.entries()) {
    kernel.race = step.race ?? false;
    switch (step.kind) {
      case 'modprobe':
        kernel.modprobeCommand(step.module, step.params);
        break;
      case 'insmod':
        kernel.insmodCommand(step.module);
        break;
      case 'rmmod':
        kernel.rmmodCommand(step.module);
        break;
      case 'disable':
      case 'enable':
        kernel.enabledCommand(step.patch, step.kind === 'enable' ? 1 : 0);
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
    // Invariants hold between commands, once asynchronous work is done; a racing next command comes first.
    if (steps[i + 1]?.race) continue;
    kernel.settle();
    for (const v of checkInvariants(kernel)) {
      const key = `${v.code}:${v.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      violations.push({ ...v, after: `line ${step.line}` });
    }
  }
  for (const e of kernel.events) {
    if (e.code !== 'stale-per-object-module' || seen.has(e.code)) continue;
    seen.add(e.code);
    violations.push({ code: e.code, message: e.message, after: 'the run' });
  }
  return { transcript: kernel.log, violations };
}
