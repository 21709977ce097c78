import type { TargetConfiguration } from '@nx/devkit';
import type { LivepatchMarker, ModuleMarker } from './markers.js';
import { shellQuote, type ToolContext } from './tool-context.js';

export { shellQuote } from './tool-context.js';

export interface KlpSplitPluginOptions {
  splitTargetName?: string;
  buildTargetName?: string;
  verifyTargetName?: string;
  /** Target name of the module projects' kbuild build. */
  moduleBuildTargetName?: string;
  /**
   * Kernel releases installed with `klp-split kernel add`: every project gets
   * one task per release (`build:<release>`, `verify:<release>`, ...), and
   * `build`/`verify` run them all.
   */
  kernels?: string[];
}

interface TargetNames {
  split: string;
  build: string;
  verify: string;
  moduleBuild: string;
}

export function targetNames(o: KlpSplitPluginOptions = {}): TargetNames {
  return {
    split: o.splitTargetName ?? 'split',
    build: o.buildTargetName ?? 'build',
    verify: o.verifyTargetName ?? 'verify',
    moduleBuild: o.moduleBuildTargetName ?? 'build',
  };
}

/** A release as `klp-split kernel add` takes it; the plugin options are checked before any target carries one. */
const RELEASE = /^[0-9]+\.[0-9]+[A-Za-z0-9.+_~-]*$/;

export function pluginKernels(o: KlpSplitPluginOptions = {}): string[] {
  const kernels = o.kernels ?? [];
  if (!Array.isArray(kernels)) throw new Error('@klp-split/nx: the option "kernels" must be a list of kernel releases');
  for (const k of kernels) if (typeof k !== 'string' || !RELEASE.test(k)) throw new Error(`@klp-split/nx: "kernels": ${JSON.stringify(k)} is not a kernel release (like 6.1.0-57-amd64)`);
  return [...new Set(kernels)];
}

/**
 * The targets run this package's executors (executors.json), which call the
 * packages' functions in-process: options Nx checks against the executors'
 * schemas and shows in `nx show project`, instead of command strings.
 */
const EXECUTOR = '@klp-split/nx';

/**
 * The kernel as a cache input, through the package's bin. Nx runs runtime
 * inputs in a shell, so no string from a marker goes into the command: with a
 * kdir, kernel-id gets the marker's path (from Nx's own file list, quoted) and
 * reads and validates the marker itself; a kernel release comes from the
 * plugin options, checked against RELEASE.
 */
function kernelInput(tool: ToolContext, m: { markerFile: string; kdir?: string }, kernel?: string): { runtime: string } {
  if (kernel) return { runtime: `${tool.cli} kernel-id --kernel ${kernel}` };
  return { runtime: `${tool.cli} kernel-id${m.kdir ? ` --marker ${shellQuote(m.markerFile)}` : ''}` };
}

/** The optional kdir option: absent rather than undefined, so `nx show project` lists no empty option. */
const kdirOption = (kdir: string | undefined): { kdir?: string } => (kdir ? { kdir } : {});

/** kbuild's products next to a module's sources: never inputs. */
const KBUILD_PRODUCTS = ['!{projectRoot}/*.mod.c', '!{projectRoot}/out/**/*'];

const suffixed = (name: string, kernel?: string): string => (kernel ? `${name}:${kernel}` : name);

/** `nx run-many -t verify` over a kernel matrix: the unsuffixed target runs every kernel's task. */
function aggregate(name: string, kernels: string[], what: string): TargetConfiguration {
  return {
    executor: 'nx:noop',
    dependsOn: kernels.map((k) => suffixed(name, k)),
    metadata: { technologies: ['livepatch'], description: `${what} for every kernel (${kernels.join(', ')})` },
  };
}

export function livepatchTargets(m: LivepatchMarker, modules: Map<string, ModuleMarker>, names: TargetNames, tool: ToolContext, kernels: string[] = []): Record<string, TargetConfiguration> {
  if (kernels.length === 0) return livepatchTargetsFor(m, modules, names, tool);
  const out: Record<string, TargetConfiguration> = {};
  for (const k of kernels) Object.assign(out, livepatchTargetsFor(m, modules, names, tool, k));
  out[names.split] = aggregate(names.split, kernels, 'Split the livepatch');
  out[names.build] = aggregate(names.build, kernels, 'Build the split modules');
  out[names.verify] = aggregate(names.verify, kernels, 'Verify the split modules');
  out.report = reportTarget(m, tool);
  return out;
}

/**
 * The livepatch x kernel table of what the verify:<release> tasks wrote.
 * No dependsOn: a finding on one kernel fails its verify task, and the
 * report is what shows it (run it after `nx run-many -t verify`). Not
 * cached: its inputs are other tasks' outputs. An executor, not a command
 * line: Nx pastes {projectRoot} into a command as text, and a project
 * directory may be named like shell syntax.
 */
function reportTarget(m: LivepatchMarker, tool: ToolContext): TargetConfiguration {
  const options = { paths: [m.root], markdown: `${m.root}/out/report.md`, sarif: `${m.root}/out/report.sarif` };
  return {
    executor: `${EXECUTOR}:report`,
    options,
    cache: false,
    outputs: ['{projectRoot}/out/report.md', '{projectRoot}/out/report.sarif'],
    metadata: {
      technologies: ['livepatch'],
      description: 'Table of the per-kernel verify results: livepatch x kernel, OK or the first finding (terminal, Markdown, SARIF)',
      help: { command: `${tool.cli} report --help`, example: { options } },
    },
  };
}

function livepatchTargetsFor(m: LivepatchMarker, modules: Map<string, ModuleMarker>, names: TargetNames, tool: ToolContext, kernel?: string): Record<string, TargetConfiguration> {
  const outDir = kernel ? `${m.root}/out/${kernel}` : `${m.root}/out`;
  const out = kernel ? `{projectRoot}/out/${kernel}` : `{projectRoot}/out`;
  const kernelOption = kernel ? { kernel } : kdirOption(m.kdir);
  const sources = ['{projectRoot}/**/*.c', '{projectRoot}/**/*.h', '!{projectRoot}/out/**/*', '{projectRoot}/klp-livepatch.json'];
  const targetKos = m.targets.flatMap((t) => {
    const mod = modules.get(t);
    const dir = mod && (kernel ? `${mod.root}/out/${kernel}` : mod.root);
    return mod ? mod.sources.map((s) => `${dir}/${s.replace(/\.c$/, '.ko')}`) : [];
  });
  const inputs = [...sources, ...tool.inputs, kernelInput(tool, m, kernel)];
  const split = suffixed(names.split, kernel);
  const build = suffixed(names.build, kernel);
  const verify = suffixed(names.verify, kernel);
  const splitOptions = { source: `${m.root}/${m.source}`, outputPath: outDir, ...kernelOption };
  const buildOptions = { path: outDir, ...kernelOption };
  const verifyOptions = { path: outDir, targets: targetKos, report: `${outDir}/verify.json`, ...(kernel ? { kernel } : {}) };
  const on = kernel ? ` on ${kernel}` : '';
  return {
    [split]: {
      executor: `${EXECUTOR}:split`,
      options: splitOptions,
      cache: true,
      inputs,
      outputs: [`${out}/*.c`, `${out}/*.h`, `${out}/klp-split.json`],
      metadata: {
        technologies: ['livepatch'],
        description: `Split the livepatch into a main module and one module per patched kernel module${on}`,
        help: { command: `${tool.cli} split --help`, example: { options: splitOptions } },
      },
    },
    [build]: {
      executor: `${EXECUTOR}:build`,
      options: buildOptions,
      cache: true,
      dependsOn: [split],
      inputs,
      outputs: [`${out}/*.ko`, `${out}/Kbuild`, `${out}/.klp-split`],
      metadata: {
        technologies: ['livepatch', 'kbuild'],
        description: `Build the split modules with the kernel's kbuild${on}`,
        help: { command: `${tool.cli} build --help`, example: { options: buildOptions } },
      },
    },
    [verify]: {
      executor: `${EXECUTOR}:verify`,
      options: verifyOptions,
      cache: true,
      dependsOn: [build, { projects: m.targets, target: suffixed(names.moduleBuild, kernel) }],
      inputs: [...inputs, ...m.targets.flatMap((t) => (modules.get(t) ? [`{workspaceRoot}/${modules.get(t)!.root}/*.c`, `!{workspaceRoot}/${modules.get(t)!.root}/*.mod.c`] : []))],
      outputs: [`${out}/verify.json`],
      metadata: {
        technologies: ['livepatch'],
        description: `Check the built modules and simulate loading them with their targets${on}`,
        help: { command: `${tool.cli} verify --help`, example: { options: verifyOptions } },
      },
    },
  };
}

export function moduleTargets(m: ModuleMarker, names: TargetNames, tool: ToolContext, kernels: string[] = []): Record<string, TargetConfiguration> {
  if (kernels.length === 0) return moduleTargetsFor(m, names, tool);
  const out: Record<string, TargetConfiguration> = {};
  for (const k of kernels) Object.assign(out, moduleTargetsFor(m, names, tool, k));
  out[names.moduleBuild] = aggregate(names.moduleBuild, kernels, 'Build the kernel module');
  return out;
}

function moduleTargetsFor(m: ModuleMarker, names: TargetNames, tool: ToolContext, kernel?: string): Record<string, TargetConfiguration> {
  const options = kernel ? { path: m.root, outputPath: `${m.root}/out/${kernel}`, kernel } : { path: m.root, ...kdirOption(m.kdir) };
  const outDir = kernel ? `{projectRoot}/out/${kernel}` : '{projectRoot}';
  return {
    [suffixed(names.moduleBuild, kernel)]: {
      executor: `${EXECUTOR}:build`,
      options,
      cache: true,
      inputs: ['{projectRoot}/*.c', '{projectRoot}/*.h', '{projectRoot}/Kbuild', '{projectRoot}/Makefile', '{projectRoot}/klp-module.json', ...KBUILD_PRODUCTS, ...tool.inputs, kernelInput(tool, m, kernel)],
      outputs: m.sources.map((s) => `${outDir}/${s.replace(/\.c$/, '.ko')}`),
      metadata: {
        technologies: ['kbuild'],
        description: `Build the kernel module with the kernel's kbuild${kernel ? ` on ${kernel}` : ''}`,
        help: { command: `${tool.cli} build --help`, example: { options } },
      },
    },
  };
}
