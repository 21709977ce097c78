import { existsSync, readFileSync } from 'node:fs';
import { discoverKernelTree, KernelTreeError, stockLayoutProbe } from '@klp-split/kbuild-gen';
import {
  defaultKallsymsFile,
  ElfError,
  explore,
  LayoutError,
  loadModuleImage,
  loadSplitSystem,
  loadSymvers,
  readLayout,
  vmlinuxSymbolSource,
  type SimSystem,
  newKernel,
  parseScenario,
  runScenario,
  ScenarioError,
  SymversError,
  VerifyError,
} from '@klp-split/runtime-sim';
import { flag, list, parseCommandArgs, str } from './args.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from './exit-codes.js';
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
                       @set_ftrace_enabled 0|1         (sysctl kernel.ftrace_enabled) | # comment
                     prints the transcript in the kernel's log wording
  --explore          every interleaving of loading and unloading the targets and
                     enabling and disabling the patch, each checked step by step
  --target <ko>      a target module (repeatable)
  --also <dir>       another built split livepatch whose modules modprobe can load
                     too, e.g. v1 of a patch whose cumulative v2 is <dir> (repeatable)
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
  try {
    if (upstream) {
      const steps = parseScenario(readFileSync(scenarioFile!, 'utf8'), scenarioFile!);
      const kallsyms = str(args, 'kallsyms');
      if (kallsyms && !existsSync(kallsyms)) throw new UsageError(`simulate: kallsyms dump ${kallsyms} does not exist`);
      const r = runScenario(newKernel(await upstreamSystem(list(args, 'module'), str(args, 'kdir'), kallsyms)), steps);
      io.out(flag(args, 'json') ? JSON.stringify(r, null, 2) : [...r.transcript, ...r.violations.map((v) => `violation [${v.code}] after ${v.after}: ${v.message}`)].join('\n'));
      return r.violations.length ? EXIT_FINDINGS : EXIT_OK;
    }
    const loaded = loadSplitSystem(dir!, list(args, 'target'));
    for (const other of list(args, 'also')) {
      const more = loadSplitSystem(other, []);
      loaded.sys = { ...loaded.sys, images: [...loaded.sys.images, ...more.parts.map((p) => p.image)] };
    }
    if (flag(args, 'explore')) {
      const r = explore(loaded.sys, loaded.manifest.patch, loaded.targets.map((t) => t.name));
      if (flag(args, 'json')) io.out(JSON.stringify(r, null, 2));
      else {
        io.out(`${r.interleavings} interleavings, ${r.steps} steps in ${Math.round(r.ms)} ms (${Math.round((r.interleavings / r.ms) * 1000)} interleavings/s)`);
        for (const v of r.violations) io.out(`violation [${v.code}] after ${v.sequence.join(' | ')}: ${v.message}`);
      }
      return r.violations.length ? EXIT_FINDINGS : EXIT_OK;
    }
    const steps = parseScenario(readFileSync(scenarioFile!, 'utf8'), scenarioFile!);
    const r = runScenario(newKernel(loaded.sys), steps);
    if (flag(args, 'json')) io.out(JSON.stringify(r, null, 2));
    else {
      io.out(r.transcript.join('\n'));
      for (const v of r.violations) io.out(`violation [${v.code}] after ${v.after}: ${v.message}`);
    }
    return r.violations.length ? EXIT_FINDINGS : EXIT_OK;
  } catch (e) {
    if (e instanceof ScenarioError) {
      io.err(e.message);
      return EXIT_FINDINGS;
    }
    if (e instanceof VerifyError || e instanceof LayoutError || e instanceof SymversError || e instanceof ElfError || e instanceof KernelTreeError) throw new UsageError(`simulate: ${e.message}`);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`simulate: ${(e as Error).message}`);
    throw e;
  }
}
