import { KlpError, readInputText } from '@klp-split/core';
import type { Diagnostic } from '@klp-split/core';

/**
 * The scenario language: the kernel selftests' commands, one per line.
 *
 *   # a comment
 *   modprobe <module> [param=value ...]
 *   insmod <module>                      (no dependency loading)
 *   rmmod <module>
 *   echo 0 > /sys/kernel/livepatch/<patch>/enabled
 *   echo 1 > /sys/kernel/livepatch/<patch>/enabled
 *   echo 1 > /sys/kernel/livepatch/<patch>/force  (completes a transition a sleeping task blocks)
 *   @race <command>                      the command runs before pending asynchronous work
 *                                        (removal of freed per-object modules)
 *   @posted-guard-defect                 the stale-module guard as posted (never fires)
 *   @sleeping <object> <function>        a task sleeps in that function (transitions wait)
 *   @callback <patch> pre_patch=<errno>  what the patch's pre-patch callbacks return from now on
 *                                        (like writing the test livepatches' pre_patch_ret parameter)
 *   @sysfs <path> <value|mode|absent>    a /sys/kernel/livepatch file must read <value>, have the
 *                                        mode `ls -l` shows (the selftests' check_sysfs_value/_rights),
 *                                        or not exist
 *   @set_ftrace_enabled <0|1>            sysctl kernel.ftrace_enabled, logged as the selftests'
 *                                        set_ftrace_enabled() logs it
 *   @interleave                          from here on the kernel runs only what the lines say:
 *                                        asynchronous work waits for @async, commands started
 *                                        with @start wait at each interleaving point for @step
 *                                        (the model checker's counterexamples are written so)
 *   @start <modprobe|insmod command>     starts the command; it runs to its first interleaving point
 *   @step <module>[#n]                   the oldest (n-th oldest) task working on <module> that is
 *                                        not waiting for another runs to its next interleaving point
 *   @async <module>                      the asynchronous removal of <module> runs now
 *   @lsmod                               prints the loaded modules, sorted: 'lsmod <m> <m> ...'
 *                                        (as the real-kernel guest prints them)
 */
export type Step = (
  | { kind: 'modprobe'; module: string; params: string[]; line: number }
  | { kind: 'insmod'; module: string; line: number }
  | { kind: 'rmmod'; module: string; line: number }
  | { kind: 'disable' | 'enable' | 'force'; patch: string; line: number }
  | { kind: 'callback'; module: string; callback: string; ret: number; line: number }
  | { kind: 'posted-guard-defect'; line: number }
  | { kind: 'sleeping'; object: string; func: string; line: number }
  | { kind: 'sysfs'; path: string; expected: string; line: number }
  | { kind: 'ftrace-enabled'; value: boolean; line: number }
  | { kind: 'interleave'; line: number }
  | { kind: 'step'; module: string; nth: number; line: number }
  | { kind: 'async'; module: string; line: number }
  | { kind: 'lsmod'; line: number }
) & { race?: boolean; start?: boolean };

/** A scenario that does not parse: an input error (exit 2) listing every bad line. */
export class ScenarioError extends KlpError {
  constructor(readonly diagnostics: Diagnostic[]) {
    const first = diagnostics[0]!;
    super(first.message, { code: first.code ?? 'scenario-invalid', file: first.file, line: first.line, col: first.col });
    this.name = 'ScenarioError';
  }

  override format(): string {
    return this.diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.severity}: ${d.message} [${d.code}]`).join('\n');
  }
}

/** Reads a scenario file (bounded, regular files only) and parses it. */
export function readScenario(path: string): Step[] {
  return parseScenario(readInputText(path, 'scenario', { what: 'scenario' }), path);
}

const MODULE = /^[A-Za-z0-9_-]+$/;
const ENABLED = /^echo\s+([01])\s*>\s*\/sys\/kernel\/livepatch\/([A-Za-z0-9_]+)\/enabled$/;
const FORCE = /^echo\s+1\s*>\s*\/sys\/kernel\/livepatch\/([A-Za-z0-9_]+)\/force$/;
const CALLBACK = /^@callback\s+([A-Za-z0-9_-]+)\s+(pre_patch)=(-?\d+)$/;

export function parseScenario(text: string, file: string): Step[] {
  const steps: Step[] = [];
  const errors: Diagnostic[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    let trimmed = raw.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    let race = false;
    if (/^@race\s/.test(trimmed)) {
      race = true;
      trimmed = trimmed.replace(/^@race\s+/, '');
    }
    const sleeping = /^@sleeping\s+([A-Za-z0-9_-]+)\s+([A-Za-z_]\w*)$/.exec(trimmed);
    if (sleeping) {
      steps.push({ kind: 'sleeping', object: sleeping[1]!.replace(/-/g, '_'), func: sleeping[2]!, line });
      return;
    }
    const sysfs = /^@sysfs\s+(\/sys\/kernel\/livepatch\/\S+)\s+(\S+)$/.exec(trimmed);
    if (sysfs) {
      steps.push({ kind: 'sysfs', path: sysfs[1]!, expected: sysfs[2]!, line });
      return;
    }
    const ftrace = /^@set_ftrace_enabled\s+([01])$/.exec(trimmed);
    if (ftrace) {
      steps.push({ kind: 'ftrace-enabled', value: ftrace[1] === '1', line });
      return;
    }
    if (trimmed === '@interleave') {
      steps.push({ kind: 'interleave', line });
      return;
    }
    const stepLine = /^@step\s+([A-Za-z0-9_-]+)(?:#(\d+))?$/.exec(trimmed);
    if (stepLine) {
      steps.push({ kind: 'step', module: stepLine[1]!.replace(/-/g, '_'), nth: Number(stepLine[2] ?? 1), line });
      return;
    }
    const asyncLine = /^@async\s+([A-Za-z0-9_-]+)$/.exec(trimmed);
    if (asyncLine) {
      steps.push({ kind: 'async', module: asyncLine[1]!.replace(/-/g, '_'), line });
      return;
    }
    let start = false;
    if (/^@start\s+(modprobe|insmod)\s/.test(trimmed)) {
      start = true;
      trimmed = trimmed.replace(/^@start\s+/, '');
    }
    if (trimmed === '@lsmod') {
      steps.push({ kind: 'lsmod', line });
      return;
    }
    if (trimmed === '@posted-guard-defect') {
      steps.push({ kind: 'posted-guard-defect', line });
      return;
    }
    const before = steps.length;
    parseCommand(trimmed, raw, line);
    if (race && steps.length > before) steps[steps.length - 1]!.race = true;
    if (start && steps.length > before) steps[steps.length - 1]!.start = true;
  });
  if (errors.length) throw new ScenarioError(errors);
  return steps;

  function parseCommand(trimmed: string, raw: string, line: number): void {
    const col = raw.indexOf(trimmed) + 1;
    const fail = (message: string): void => {
      errors.push({ file, line, col, severity: 'error', message, code: 'scenario-syntax' });
    };
    const words = trimmed.split(/\s+/);
    const [cmd, mod] = words;
    if ((cmd === 'modprobe' || cmd === 'insmod' || cmd === 'rmmod') && mod && MODULE.test(mod)) {
      const module = mod.replace(/-/g, '_');
      if (cmd === 'modprobe') steps.push({ kind: 'modprobe', module, params: words.slice(2), line });
      else if (words.length > 2) fail(`${cmd} takes one module`);
      else steps.push({ kind: cmd, module, line });
      return;
    }
    const enabled = ENABLED.exec(trimmed);
    if (enabled) {
      steps.push({ kind: enabled[1] === '1' ? 'enable' : 'disable', patch: enabled[2]!, line });
      return;
    }
    const force = FORCE.exec(trimmed);
    if (force) {
      steps.push({ kind: 'force', patch: force[1]!, line });
      return;
    }
    const cb = CALLBACK.exec(trimmed);
    if (cb) {
      steps.push({ kind: 'callback', module: cb[1]!.replace(/-/g, '_'), callback: cb[2]!, ret: Number(cb[3]), line });
      return;
    }
    fail(`cannot read '${trimmed}': expected modprobe, insmod, rmmod, 'echo 0|1 > /sys/kernel/livepatch/<patch>/enabled', 'echo 1 > /sys/kernel/livepatch/<patch>/force', @race, @posted-guard-defect, @callback, @sleeping, @sysfs @set_ftrace_enabled, @interleave, @start, @step, @async or @lsmod`);
  }
}

/** The step as the selftests' transcript shows the command. */
export function stepCommand(step: Step): string | undefined {
  switch (step.kind) {
    case 'modprobe':
      return ['modprobe', step.module, ...step.params].join(' ');
    case 'insmod':
      return `insmod ${step.module}`;
    case 'rmmod':
      return `rmmod ${step.module}`;
    case 'disable':
    case 'enable':
      return `echo ${step.kind === 'enable' ? 1 : 0} > /sys/kernel/livepatch/${step.patch}/enabled`;
    case 'force':
      return `echo 1 > /sys/kernel/livepatch/${step.patch}/force`;
    case 'callback':
    case 'sleeping':
    case 'sysfs':
    case 'ftrace-enabled':
    case 'posted-guard-defect':
    case 'interleave':
    case 'step':
    case 'async':
    case 'lsmod':
      return undefined;
  }
}
