import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { builtParts, perObjectModuleName, type SplitManifest, originalLine, type Diagnostic } from '@klp-split/core';
import type { ModuleImage } from '../image/module-image.js';
import type { SimEvent, SimKernel } from '../kernel/kernel.js';
import { newKernel } from '../kernel/system.js';
import { checkSplit } from '../check/decompose.js';
import { counterexampleFileName, counterexampleScenario } from '../check/counterexample.js';
import type { BudgetStop, CheckBudget } from '../check/search.js';
import type { SplitCheckResult } from '../check/decompose.js';
import { budgetText, DEFAULT_VERIFY_BUDGET } from '../check/budget.js';
import { SplitChecks } from './checks.js';
import { loadSplitSystem, VerifyError } from './load-system.js';

export { VerifyError } from './load-system.js';

interface VerifyOptions {
  /** Target modules (.ko) the patch fixes, built from their unmodified sources. */
  targets: string[];
  /**
   * Other built split livepatches the model check loads too (each once, the
   * verified patch up to twice): e.g. v1 of a cumulative (replace) v2, so
   * that upgrades, downgrades and a reloaded copy are searched together.
   */
  also?: string[];
  /**
   * Tasks that never reach a safe point (`object:function`, sleeping in its
   * old code): patching transitions of the patches that replace it stall,
   * and the model check forces them (`echo 1 > .../force`) too.
   */
  sleeping?: string[];
  /** Skip the model check of the loads, unloads and races. */
  noExplore?: boolean;
  /**
   * Stop the model check after this much time and/or this many states (the
   * report then says what was covered); default DEFAULT_VERIFY_BUDGET.
   */
  budget?: CheckBudget;
  /** Write each violation's shortest counterexample as a scenario file into this directory. */
  counterexamples?: string;
  /** How the reader replays a counterexample (the simulate command line without --scenario). */
  replayCommand?: string;
  /** A /proc/kallsyms dump of the target kernel (default: the cached one of scripts/qemu-kernel.sh). */
  kallsyms?: string;
  /** The manifest to verify (default klp-split.json; `<patch>.klp-split.json` in a converted directory). */
  manifest?: string;
  /** Per-object functions whose target was not given are a warning, not an error. */
  allowUnchecked?: boolean;
  /** Called with one line per module checked, for progress on long runs. */
  onProgress?: (line: string) => void;
}

export interface VerifyReport {
  ok: boolean;
  patch: string;
  dir: string;
  diagnostics: Diagnostic[];
  /** The scenario's commands and the kernel log, in the kernel's wording. */
  transcript: string[];
  modules: { module: string; file: string; role: 'main' | 'per-object' | 'target' }[];
  exploration?: ExplorationReport;
  /** Where vmlinux's symbols came from. */
  vmlinuxSymbols: string;
}


/** What the model check covered and found. */
interface ExplorationReport {
  states: number;
  transitions: number;
  /** Distinct violations (no cap). */
  violations: number;
  /** Every reachable state within the bounds was checked. */
  complete: boolean;
  /** When incomplete: every state up to this many events from the start was checked. */
  depthCompleted: number;
  depth: number;
  stoppedBy?: BudgetStop;
  /** The bounds the search ran under (--budget, else DEFAULT_VERIFY_BUDGET). */
  budget: string;
  /** The patches loaded in the model: the verified one (and a reloaded copy), then each --also patch once. */
  patches: string[];
  /** Groups of targets explored together, and how many finished. */
  groups: string[][];
  groupsComplete: number;
  /** The bounds of the model: loads (and removals) per patch and per target. */
  bounds: { patchLoads: number; targetLoads: number };
  ms: number;
  heapBytes: number;
  /** Each violation's shortest counterexample, as a scenario (and the file it was written to). */
  counterexamples: { code: string; message: string; events: number; scenario: string; file?: string }[];
}

/** Events the simulated kernel reports that only inform. */
const NOTE_EVENTS = new Set(['symbol-unchecked']);

/**
 * Verifies a built split livepatch: static checks of every module's ELF
 * data, then the load scenario "load the targets, load the patch (which
 * requests its per-object modules), disable, unload" in the simulated kernel.
 */
export function verifySplit(dirArg: string, opts: VerifyOptions): VerifyReport {
  const { dir, manifest, layout, parts, targets, sys, diagnostics, kallsyms } = loadSplitSystem(dirArg, opts.targets, opts.kallsyms, opts.manifest);
  const patches = [manifest.patch];
  for (const other of opts.also ?? []) {
    const more = loadSplitSystem(other, [], opts.kallsyms);
    if (patches.includes(more.manifest.patch)) throw new VerifyError(`--also names patch '${more.manifest.patch}' a second time`, { file: other, code: 'also-duplicate' });
    patches.push(more.manifest.patch);
    sys.images.push(...more.parts.map((p) => p.image));
    diagnostics.push(...more.diagnostics);
  }
  const checks = new SplitChecks(dir, manifest, layout);
  checks.run(parts, targets);
  diagnostics.push(...checks.diagnostics);
  diagnostics.push(...uncheckedObjects(manifest, targets, opts.allowUnchecked === true));

  for (const p of parts) {
    const errors = diagnostics.filter((d) => d.file === p.part.file && d.severity === 'error').length;
    opts.onProgress?.(`checked ${p.image.name}${errors ? `: ${errors} error${errors === 1 ? '' : 's'}` : ''}`);
  }
  const kernel = newKernel(sys);
  runLoadScenario(kernel, manifest, targets, diagnostics);
  diagnostics.push(...eventDiagnostics(kernel.events.filter((e) => !checks.refused.has(`${e.code}:${e.module}`)), manifest));
  let exploration: VerifyReport['exploration'];
  if (!opts.noExplore && !diagnostics.some((d) => d.severity === 'error')) {
    exploration = modelCheckSplit(sys, manifest, patches, targets, opts, diagnostics);
  }

  return {
    ok: !diagnostics.some((d) => d.severity === 'error'),
    patch: manifest.patch,
    dir,
    diagnostics: diagnostics.map((d) => toOriginal(d, manifest)),
    exploration,
    vmlinuxSymbols: kallsyms ? `kallsyms dump ${kallsyms}` : 'Module.symvers exports only',
    transcript: kernel.log,
    modules: [
      ...parts.map((p) => ({ module: p.image.name, file: relative(dir, p.image.path), role: p.part.object === 'vmlinux' ? ('main' as const) : ('per-object' as const) })),
      ...targets.map((t) => ({ module: t.name, file: t.path, role: 'target' as const })),
    ],
  };
}

/** The model check of every load, unload and race within the bounds, its findings as diagnostics. */
function modelCheckSplit(sys: Parameters<typeof checkSplit>[0], manifest: SplitManifest, patches: string[], targets: ModuleImage[], opts: VerifyOptions, diagnostics: Diagnostic[]): ExplorationReport {
  // A second patch multiplies the interleavings: each target is then loaded (and removed) once.
  const bounds = { patchLoads: 2, targetLoads: patches.length > 1 ? 1 : 2 };
  const budget = opts.budget ?? DEFAULT_VERIFY_BUDGET;
  const r = checkSplit(sys, { patches, targets: targets.map((t) => t.name), ...bounds, sleeping: opts.sleeping, budget, onProgress: opts.onProgress });
  const mainFile = manifest.parts[0]?.file ?? manifest.source;
  const counterexamples: ExplorationReport['counterexamples'] = [];
  if (opts.counterexamples) mkdirSync(opts.counterexamples, { recursive: true });
  for (const [i, v] of r.violations.entries()) {
    const scenario = counterexampleScenario(v, { replay: opts.replayCommand ? `${opts.replayCommand} --scenario <this file>` : undefined, sleeping: opts.sleeping });
    const file = opts.counterexamples ? join(opts.counterexamples, counterexampleFileName(v, i)) : undefined;
    if (file) writeFileSync(file, scenario);
    counterexamples.push({ code: v.code, message: v.message, events: v.lines.length, scenario, ...(file ? { file } : {}) });
    const where = file ? ` (written to ${file})` : '';
    diagnostics.push({ file: mainFile, line: 0, col: 0, severity: 'error', message: `model check: ${v.message}; shortest counterexample: ${v.lines.length} events${where}`, code: v.code });
  }
  if (!r.complete) {
    diagnostics.push({
      file: mainFile,
      line: 0,
      col: 0,
      severity: 'warning',
      message: `model check incomplete (${STOP_WORDS[r.stoppedBy ?? 'states']} reached${opts.budget ? '' : `, the default budget ${budgetText(budget)}; --budget sets another`}): ${coverage(r)}`,
      code: 'model-check-incomplete',
    });
  }
  return {
    states: r.states,
    transitions: r.transitions,
    violations: r.violations.length,
    complete: r.complete,
    depthCompleted: r.depthCompleted,
    depth: r.depth,
    ...(r.stoppedBy ? { stoppedBy: r.stoppedBy } : {}),
    budget: budgetText(budget),
    patches,
    groups: r.groups,
    groupsComplete: r.groupsComplete,
    bounds,
    ms: Math.round(r.ms),
    heapBytes: r.heapBytes,
    counterexamples,
  };
}

const STOP_WORDS: Record<BudgetStop, string> = { time: 'time budget', states: 'state budget', memory: 'memory bound (the heap was filling up)' };

/** What an incomplete search covered, target group by target group. */
function coverage(r: SplitCheckResult): string {
  const done = r.groups.slice(0, r.groupsComplete).map((g) => g.join(', '));
  const stopped = r.groups[r.groupsComplete];
  const left = r.groups.length - r.groupsComplete - (stopped ? 1 : 0);
  return [
    done.length ? `searched completely: ${done.length} target group(s) (${done.join('; ')})` : 'no target group searched completely',
    stopped ? `in the group of ${stopped.join(', ')} every state up to ${r.depthCompleted} events from the start was checked (${r.states} states in all)` : undefined,
    left > 0 ? `${left} group(s) not searched (${r.groups.slice(r.groupsComplete + 1).map((g) => g.join(', ')).join('; ')})` : undefined,
  ].filter(Boolean).join('; ');
}

function runLoadScenario(kernel: SimKernel, manifest: SplitManifest, targets: ModuleImage[], diagnostics: Diagnostic[]): void {
  const mainFile = manifest.parts[0]?.file ?? manifest.source;
  const finding = (code: string, message: string): void => {
    diagnostics.push({ file: mainFile, line: 0, col: 0, severity: 'error', message, code });
  };
  for (const t of targets) kernel.modprobeCommand(t.name);
  const err = kernel.modprobeCommand(manifest.patch);
  if (err) {
    finding('patch-load-failed', `loading '${manifest.patch}' after its targets failed (${err})`);
    return;
  }
  for (const t of targets) {
    if (!manifest.objNames.includes(t.name)) continue;
    const part = perObjectModuleName(manifest.patch, t.name);
    if (!kernel.isLoaded(part)) finding('per-object-not-loaded', `'${t.name}' is loaded and the patch is enabled, but '${part}' is not loaded`);
  }
  kernel.enabledCommand(manifest.patch, 0);
  kernel.rmmodCommand(manifest.patch);
  for (const t of [...targets].reverse()) kernel.rmmodCommand(t.name);
  const leaked = [...kernel.modules.keys()];
  if (leaked.length) finding('leaked-module', `still loaded after disabling the patch and unloading everything: ${leaked.join(', ')}`);
}

function eventDiagnostics(events: SimEvent[], manifest: SplitManifest): Diagnostic[] {
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const e of events) {
    const key = `${e.code}:${e.module}:${e.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const part = manifest.parts.find((p) => p.module === e.module);
    out.push({
      file: part?.file ?? e.module ?? manifest.source,
      line: 0,
      col: 0,
      severity: NOTE_EVENTS.has(e.code) ? 'note' : 'error',
      message: `simulated load: ${e.message}`,
      code: e.code,
    });
  }
  return out;
}

/**
 * A per-object module's functions are only looked up in its target's ELF:
 * without that target, "OK" would vouch for what was never checked.
 */
function uncheckedObjects(manifest: SplitManifest, targets: ModuleImage[], allow: boolean): Diagnostic[] {
  const out: Diagnostic[] = [];
  const severity = allow ? 'warning' : 'error';
  const hint = allow ? '' : '; give it with --target, or pass --allow-unchecked';
  const given = new Set(targets.map((t) => t.name));
  for (const part of builtParts(manifest)) {
    if (part.object === 'vmlinux' || given.has(part.object)) continue;
    const funcs = part.funcs.map((f) => f.oldName).join(', ') || 'no functions';
    out.push({ file: part.file, line: 0, col: 0, severity, code: 'object-unchecked', message: `per-object module '${part.module}' was not checked against its target '${part.object}' (${funcs})${hint}` });
  }
  const objects = new Set(builtParts(manifest).map((p) => p.object));
  for (const t of targets) {
    if (objects.has(t.name)) continue;
    out.push({ file: manifest.parts[0]?.file ?? manifest.source, line: 0, col: 0, severity, code: 'target-not-an-object', message: `--target '${t.name}' is not one of the patch's objects (${[...objects].filter((o) => o !== 'vmlinux').join(', ') || 'vmlinux only'})` });
  }
  return out;
}

/**
 * A finding on a generated split file, pointed at the original source line
 * the split moved there (the manifest's source map); the generated
 * location stays alongside.
 */
function toOriginal(d: Diagnostic, manifest: SplitManifest): Diagnostic {
  const o = originalLine(manifest.sourceMap, d.file, d.line);
  if (!o) return d;
  return { ...d, file: o.file, line: o.line, col: o.exact ? d.col : 0, generated: { file: d.file, line: d.line, col: d.col } };
}
