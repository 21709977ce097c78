import { existsSync } from 'node:fs';
import { KlpError, type Diagnostic } from '@klp-split/core';
import { stockLayoutProbe } from '@klp-split/kbuild-gen';
import { discoverKernelTree, loadSymvers } from '@klp-split/kernel-facts';
import { checkSplit, counterexampleScenario, DEFAULT_VERIFY_BUDGET, parseBudget, loadModuleImage, loadSplitSystem, readLayout, vmlinuxSymbolSource, type SimSystem, type ScenarioResult, type Step, newKernel, readScenario, runScenario } from '@klp-split/runtime-sim';
import { flag, list, parseCommandArgs, str } from './args.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from './exit-codes.js';
import { requireRegularFile } from './input-files.js';
import { checkRealScenario, compareOnRealKernel, formatComparison } from './simulate-real.js';
import { printDiagnostics, type Io } from './output.js';

export const SIMULATE_HELP = `Usage: klp-split simulate <dir> --target <module.ko>... (--scenario <file> | --explore) [--json]
       klp-split simulate --upstream --module <module.ko>... --scenario <file> [--json]
       klp-split simulate <dir> --target <module.ko>... --scenario <file> --real-kernel split
       klp-split simulate --upstream --module <module.ko>... --scenario <file> --real-kernel stock

Runs the built split modules of <dir> and the target modules in the
simulated kernel (the split livepatch series' loader and livepatch core).
With --upstream, runs classic (unsplit) livepatch modules and their
targets in the upstream livepatch core instead.

  --scenario <file>  commands as in the kernel's livepatch selftests, one a line:
                       modprobe <module> [param=value...] | insmod <module> |
                       rmmod <module> | echo 0|1 > /sys/kernel/livepatch/<patch>/enabled |
                       @callback <module> pre_patch=<errno>   (a callback's return) |
                       @sleeping <object> <function>   (a task sleeps there) |
                       @sysfs <path> <value|mode>      (a sysfs check; a mismatch is a violation) |
                       @set_ftrace_enabled 0|1         (sysctl kernel.ftrace_enabled) |
                       @interleave  (nothing runs unless a line says so; then:)
                       @start modprobe <module>  (runs to its first interleaving point) |
                       @step <module>[#n]  (its task runs to the next one) |
                       @async <module>  (the pending removal runs) |
                       @lsmod  (the loaded modules, sorted) | # comment
                     prints the transcript in the kernel's log wording
  --explore          model check: every order of loading and unloading the targets
                     and loading, disabling and removing the patch (and a reloaded
                     copy), interleaved at the kernel's interleaving points
                     (request_module(), the coming handler, module init, the
                     asynchronous removal of per-object modules); prints each
                     violation's shortest counterexample as a scenario
  --budget <b>       with --explore: stop after a time (90s) and/or states (200000);
                     default 2m,1000000, 'unlimited' for no bound
  --target <ko>      a target module (repeatable)
  --also <dir>       another built split livepatch whose modules modprobe can load
                     too, e.g. v1 of a patch whose cumulative v2 is <dir> (repeatable);
                     with --explore its patch is loaded in the search too (once)
  --upstream         the upstream livepatch core, for classic livepatches
  --module <ko>      with --upstream: a module modprobe can load (repeatable)
  --kdir <dir>       kernel tree (for Module.symvers and the structure layout)
  --kallsyms <file>  with --upstream: a /proc/kallsyms dump of the kernel, for the
                     old_name and old_sympos checks on vmlinux (default: $KLP_KALLSYMS
                     or the dump cached from booting Debian's kernel)
  --real-kernel <k>  also run the scenario on a real kernel under qemu and print
                     both transcripts side by side (commands, the tools' errors,
                     the livepatch core's and the modules' kernel lines, callback
                     calls, @lsmod): 'split' is the split livepatch kernel of the
                     project's scripts/split-kernel.sh (a checkout of klp-split;
                     <dir> built against its tree: --kdir $(scripts/split-kernel.sh kdir)),
                     'stock' Debian's 6.1 kernel (with --upstream); the modules are
                     installed under /lib/modules/<release>/extra and indexed with
                     depmod. Runs modprobe, insmod, rmmod, echo 0|1 > .../enabled,
                     @callback, @lsmod, @sysfs and @set_ftrace_enabled; exit 1
                     when the two differ
  --json             machine-readable result

Exit status: 0 no invariant broken (with --real-kernel: and both agree),
1 violations (or the transcripts differ), 2 usage or environment error.`;

/** Classic livepatches: the stock structure layout, modules given one by one. */
async function upstreamSystem(modules: string[], kdir: string | undefined, kallsyms: string | undefined): Promise<SimSystem> {
  const tree = discoverKernelTree({ kdir });
  const vmlinuxExports = loadSymvers(tree.symvers).vmlinux;
  return {
    layout: readLayout(await stockLayoutProbe(tree)),
    vmlinuxExports,
    vmlinuxSymbols: vmlinuxSymbolSource(vmlinuxExports, kallsyms ?? tree.kallsyms),
    images: modules.map((m) => loadModuleImage(m)),
  };
}

/** The scenario on the real kernel too: both transcripts side by side; 1 when they differ or an invariant broke. */
async function againstRealKernel(kind: 'split' | 'stock', sys: SimSystem, scenarioFile: string, steps: Step[], sim: ScenarioResult, json: boolean, io: Io): Promise<number> {
  checkRealScenario(steps, scenarioFile);
  const c = await compareOnRealKernel(kind, sys.images.map((i) => i.path), sys.images.map((i) => i.name), scenarioFile, sim.transcript);
  if (json) io.out(JSON.stringify({ ...c, violations: sim.violations }, null, 2));
  else {
    for (const l of formatComparison(c)) io.out(l);
    for (const v of sim.violations) io.out(`violation [${v.code}] after ${v.after}: ${v.message}`);
  }
  return c.agree && !sim.violations.length ? EXIT_OK : EXIT_FINDINGS;
}

export async function simulateCommand(argv: string[], io: Io): Promise<number> {
  const args = parseCommandArgs('simulate', argv, {
    target: { type: 'string', multiple: true, short: 't' },
    scenario: { type: 'string' },
    explore: { type: 'boolean' },
    budget: { type: 'string' },
    json: { type: 'boolean' },
    upstream: { type: 'boolean' },
    module: { type: 'string', multiple: true, short: 'm' },
    kdir: { type: 'string' },
    kallsyms: { type: 'string' },
    also: { type: 'string', multiple: true },
    'real-kernel': { type: 'string' },
  });
  if (flag(args, 'help')) {
    io.out(SIMULATE_HELP);
    return EXIT_OK;
  }
  const [dir, ...extra] = args.positionals;
  const upstream = flag(args, 'upstream');
  if (upstream ? args.positionals.length : !dir || extra.length) throw new UsageError(upstream ? 'simulate: --upstream takes --module files, not a directory' : 'simulate: give exactly one directory');
  const scenarioFile = str(args, 'scenario');
  if (!scenarioFile && !flag(args, 'explore')) throw new UsageError('simulate: give --scenario <file> or --explore');
  if (upstream && !scenarioFile) throw new UsageError('simulate: --upstream runs a --scenario');
  const realKernel = str(args, 'real-kernel');
  if (realKernel !== undefined) {
    if (realKernel !== 'split' && realKernel !== 'stock') throw new UsageError(`simulate: --real-kernel is 'split' or 'stock', not '${realKernel}'`);
    if (!scenarioFile) throw new UsageError('simulate: --real-kernel runs a --scenario');
    if (realKernel === 'stock' && !upstream) throw new UsageError('simulate: --real-kernel stock runs classic livepatches: give --upstream --module <ko>... (split modules need --real-kernel split)');
    if (realKernel === 'split' && upstream) throw new UsageError('simulate: --real-kernel split runs a split directory: drop --upstream (classic livepatches run on --real-kernel stock)');
  }
  if (scenarioFile) requireRegularFile('simulate', '--scenario', scenarioFile);
  for (const m of list(args, 'module')) requireRegularFile('simulate', '--module', m);
  for (const t of list(args, 'target')) requireRegularFile('simulate', '--target', t);
  if (str(args, 'kallsyms')) requireRegularFile('simulate', '--kallsyms', str(args, 'kallsyms')!);
  if (upstream) {
    const steps = readScenario(scenarioFile!);
    const kallsyms = str(args, 'kallsyms');
    if (kallsyms && !existsSync(kallsyms)) throw new UsageError(`simulate: kallsyms dump ${kallsyms} does not exist`);
    const system = await upstreamSystem(list(args, 'module'), str(args, 'kdir'), kallsyms);
    const r = runScenario(newKernel(system), steps);
    if (realKernel) return await againstRealKernel('stock', system, scenarioFile!, steps, r, flag(args, 'json'), io);
    io.out(flag(args, 'json') ? JSON.stringify(r, null, 2) : [...r.transcript, ...r.violations.map((v) => `violation [${v.code}] after ${v.after}: ${v.message}`)].join('\n'));
    return r.violations.length ? EXIT_FINDINGS : EXIT_OK;
  }
  const loaded = loadSplitSystem(dir!, list(args, 'target'));
  const unreadable = loaded.diagnostics.filter(isUnreadableModule);
  const alsoPatches: string[] = [];
  for (const other of list(args, 'also')) {
    const more = loadSplitSystem(other, []);
    unreadable.push(...more.diagnostics.filter(isUnreadableModule));
    alsoPatches.push(more.manifest.patch);
    loaded.sys = { ...loaded.sys, images: [...loaded.sys.images, ...more.parts.map((p) => p.image)] };
  }
  // Simulating without a module that is there but cannot be read would show a kernel that never met it.
  if (unreadable.length) {
    printDiagnostics(io, unreadable);
    throw new KlpError(`simulate: ${unreadable.length} module${unreadable.length === 1 ? '' : 's'} cannot be read (above); nothing simulated`, { code: 'module-unreadable', file: dir });
  }
  if (flag(args, 'explore')) {
    const budgetText = str(args, 'budget');
    const budget = budgetText === undefined ? undefined : parseBudget(budgetText);
    if (typeof budget === 'string') throw new UsageError(`simulate: ${budget}`);
    const r = checkSplit(loaded.sys, { patches: [loaded.manifest.patch, ...alsoPatches], targets: loaded.targets.map((t) => t.name), budget: budget ?? DEFAULT_VERIFY_BUDGET, onProgress: io.progress });
    if (flag(args, 'json')) io.out(JSON.stringify(r, null, 2));
    else {
      const rate = r.ms > 0 ? Math.round((r.states / r.ms) * 1000) : r.states;
      io.out(`${r.states} states, ${r.transitions} transitions, ${r.violations.length} distinct violation(s), ${r.complete ? 'complete' : `INCOMPLETE (${r.stoppedBy} budget: ${r.groupsComplete}/${r.groups.length} groups of targets done, every state up to ${r.depthCompleted} events checked in the last)`} in ${Math.round(r.ms)} ms (${rate} states/s)`);
      for (const v of r.violations) {
        io.out(`violation [${v.code}]: ${v.message}`);
        io.out(counterexampleScenario(v).trimEnd().replace(/^/gm, '  '));
      }
    }
    return r.violations.length ? EXIT_FINDINGS : EXIT_OK;
  }
  const steps = readScenario(scenarioFile!);
  if (realKernel) checkRealScenario(steps, scenarioFile!);
  const r = runScenario(newKernel(loaded.sys), steps);
  if (realKernel) return await againstRealKernel('split', loaded.sys, scenarioFile!, steps, r, flag(args, 'json'), io);
  if (flag(args, 'json')) io.out(JSON.stringify(r, null, 2));
  else {
    io.out(r.transcript.join('\n'));
    for (const v of r.violations) io.out(`violation [${v.code}] after ${v.after}: ${v.message}`);
  }
  return r.violations.length ? EXIT_FINDINGS : EXIT_OK;
}

/** A module loadSplitSystem() found but could not read (invalid ELF, or one the loader cannot place). */
function isUnreadableModule(d: Diagnostic): boolean {
  return d.severity === 'error' && (d.code === 'elf-invalid' || d.code === 'module-unloadable');
}
