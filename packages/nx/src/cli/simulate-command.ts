import { existsSync } from 'node:fs';
import { discoverKernelTree, KernelTreeError, stockLayoutProbe } from '@klp-split/kbuild-gen';
import {
  defaultKallsymsFile,
  checkSplit,
  counterexampleScenario,
  parseBudget,
  loadModuleImage,
  loadSplitSystem,
  loadSymvers,
  readLayout,
  vmlinuxSymbolSource,
  type SimSystem,
  newKernel,
  readScenario,
  runScenario,
} from '@klp-split/runtime-sim';
import { flag, list, parseCommandArgs, str } from './args.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from './exit-codes.js';
import { requireRegularFile } from './input-files.js';
import type { Io } from './output.js';

export const SIMULATE_HELP = `Usage: klp-split simulate <dir> --target <module.ko>... (--scenario <file> | --explore) [--json]
       klp-split simulate --upstream --module <module.ko>... --scenario <file> [--json]

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
                       @async <module>  (the pending removal runs) | # comment
                     prints the transcript in the kernel's log wording
  --explore          model check: every order of loading and unloading the targets
                     and loading, disabling and removing the patch (and a reloaded
                     copy), interleaved at the kernel's interleaving points
                     (request_module(), the coming handler, module init, the
                     asynchronous removal of per-object modules); prints each
                     violation's shortest counterexample as a scenario
  --budget <b>       with --explore: stop after a time (90s) and/or states (200000)
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
  --json             machine-readable result

Exit status: 0 no invariant broken, 1 violations, 2 usage or environment error.`;

/** Classic livepatches: the stock structure layout, modules given one by one. */
async function upstreamSystem(modules: string[], kdir: string | undefined, kallsyms: string | undefined): Promise<SimSystem> {
  const tree = discoverKernelTree({ kdir });
  const vmlinuxExports = loadSymvers(tree.symvers).vmlinux;
  return {
    layout: readLayout(await stockLayoutProbe(kdir)),
    vmlinuxExports,
    vmlinuxSymbols: vmlinuxSymbolSource(vmlinuxExports, kallsyms ?? defaultKallsymsFile(tree.release)),
    images: modules.map((m) => loadModuleImage(m)),
  };
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
  if (scenarioFile) requireRegularFile('simulate', '--scenario', scenarioFile);
  for (const m of list(args, 'module')) requireRegularFile('simulate', '--module', m);
  for (const t of list(args, 'target')) requireRegularFile('simulate', '--target', t);
  if (str(args, 'kallsyms')) requireRegularFile('simulate', '--kallsyms', str(args, 'kallsyms')!);
  try {
    if (upstream) {
      const steps = readScenario(scenarioFile!);
      const kallsyms = str(args, 'kallsyms');
      if (kallsyms && !existsSync(kallsyms)) throw new UsageError(`simulate: kallsyms dump ${kallsyms} does not exist`);
      const r = runScenario(newKernel(await upstreamSystem(list(args, 'module'), str(args, 'kdir'), kallsyms)), steps);
      io.out(flag(args, 'json') ? JSON.stringify(r, null, 2) : [...r.transcript, ...r.violations.map((v) => `violation [${v.code}] after ${v.after}: ${v.message}`)].join('\n'));
      return r.violations.length ? EXIT_FINDINGS : EXIT_OK;
    }
    const loaded = loadSplitSystem(dir!, list(args, 'target'));
    const alsoPatches: string[] = [];
    for (const other of list(args, 'also')) {
      const more = loadSplitSystem(other, []);
      alsoPatches.push(more.manifest.patch);
      loaded.sys = { ...loaded.sys, images: [...loaded.sys.images, ...more.parts.map((p) => p.image)] };
    }
    if (flag(args, 'explore')) {
      const budgetText = str(args, 'budget');
      const budget = budgetText === undefined ? undefined : parseBudget(budgetText);
      if (typeof budget === 'string') throw new UsageError(`simulate: ${budget}`);
      const r = checkSplit(loaded.sys, { patches: [loaded.manifest.patch, ...alsoPatches], targets: loaded.targets.map((t) => t.name), budget, onProgress: io.progress });
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
    const r = runScenario(newKernel(loaded.sys), steps);
    if (flag(args, 'json')) io.out(JSON.stringify(r, null, 2));
    else {
      io.out(r.transcript.join('\n'));
      for (const v of r.violations) io.out(`violation [${v.code}] after ${v.after}: ${v.message}`);
    }
    return r.violations.length ? EXIT_FINDINGS : EXIT_OK;
  } catch (e) {
    // Readers of outside data throw KlpError themselves (main() prints them, exit 2); the kernel tree's error is not one yet.
    if (e instanceof KernelTreeError) throw new UsageError(`simulate: ${e.message}`);
    throw e;
  }
}
