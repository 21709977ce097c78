import type { TargetConfiguration } from '@nx/devkit';
import type { LivepatchMarker, ModuleMarker } from './markers.js';

export interface KlpSplitPluginOptions {
  splitTargetName?: string;
  buildTargetName?: string;
  verifyTargetName?: string;
  /** Target name of the module projects' kbuild build. */
  moduleBuildTargetName?: string;
}

export interface TargetNames {
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

/** The CLI, run from the workspace root (Nx's default cwd): the kernel-id cache input and the targets' help. */
const CLI = 'node packages/nx/bin/klp-split.js';

/**
 * The targets run this package's executors (executors.json), which call the
 * CLI's commands in-process: options Nx checks against the executors'
 * schemas and shows in `nx show project`, instead of command strings.
 */
const EXECUTOR = '@klp-split/nx';

/** What every klp-split result depends on besides the sources: the tool and the kernel tree. */
const TOOL_INPUTS = [
  '{workspaceRoot}/packages/*/src/**/*.ts',
  '!{workspaceRoot}/packages/*/src/**/*.test.ts',
  '{workspaceRoot}/scripts/kernel-env.sh',
];

/** One shell word: Nx runs runtime inputs in a shell. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The kernel tree as a cache input. Nx runs runtime inputs in a shell, so no
 * string from a marker goes into the command: with a kdir, kernel-id gets
 * the marker's path (from Nx's own file list, quoted) and reads and
 * validates the marker itself.
 */
function kernelInput(m: { markerFile: string; kdir?: string }): { runtime: string } {
  return { runtime: `${CLI} kernel-id${m.kdir ? ` --marker ${shellQuote(m.markerFile)}` : ''}` };
}

/** The optional kdir option: absent rather than undefined, so `nx show project` lists no empty option. */
const kdirOption = (kdir: string | undefined): { kdir?: string } => (kdir ? { kdir } : {});

export function livepatchTargets(m: LivepatchMarker, modules: Map<string, ModuleMarker>, names: TargetNames): Record<string, TargetConfiguration> {
  const out = `{projectRoot}/out`;
  const sources = ['{projectRoot}/**/*.c', '{projectRoot}/**/*.h', '!{projectRoot}/out/**/*', '{projectRoot}/klp-livepatch.json'];
  const targetKos = m.targets.flatMap((t) => {
    const mod = modules.get(t);
    return mod ? mod.sources.map((s) => `${mod.root}/${s.replace(/\.c$/, '.ko')}`) : [];
  });
  return {
    [names.split]: {
      executor: `${EXECUTOR}:split`,
      options: { source: `${m.root}/${m.source}`, outputPath: `${m.root}/out`, ...kdirOption(m.kdir) },
      cache: true,
      inputs: [...sources, ...TOOL_INPUTS, kernelInput(m)],
      outputs: [`${out}/*.c`, `${out}/*.h`, `${out}/klp-split.json`],
      metadata: {
        technologies: ['livepatch'],
        description: 'Split the livepatch into a main module and one module per patched kernel module',
        help: { command: `${CLI} split --help`, example: {} },
      },
    },
    [names.build]: {
      executor: `${EXECUTOR}:build`,
      options: { path: `${m.root}/out`, ...kdirOption(m.kdir) },
      cache: true,
      dependsOn: [names.split],
      inputs: [...sources, ...TOOL_INPUTS, kernelInput(m)],
      outputs: [`${out}/*.ko`, `${out}/Kbuild`, `${out}/.klp-split`],
      metadata: {
        technologies: ['livepatch', 'kbuild'],
        description: "Build the split modules with the kernel's kbuild",
        help: { command: `${CLI} build --help`, example: {} },
      },
    },
    [names.verify]: {
      executor: `${EXECUTOR}:verify`,
      options: { path: `${m.root}/out`, targets: targetKos, report: `${m.root}/out/verify.json` },
      cache: true,
      dependsOn: [names.build, { projects: m.targets, target: names.moduleBuild }],
      inputs: [...sources, ...TOOL_INPUTS, kernelInput(m), ...m.targets.flatMap((t) => (modules.get(t) ? [`{workspaceRoot}/${modules.get(t)!.root}/**/*.c`] : []))],
      outputs: [`${out}/verify.json`],
      metadata: {
        technologies: ['livepatch'],
        description: 'Check the built modules and simulate loading them with their targets',
        help: { command: `${CLI} verify --help`, example: {} },
      },
    },
  };
}

export function moduleTargets(m: ModuleMarker, names: TargetNames): Record<string, TargetConfiguration> {
  return {
    [names.moduleBuild]: {
      executor: `${EXECUTOR}:build`,
      options: { path: m.root, ...kdirOption(m.kdir) },
      cache: true,
      inputs: ['{projectRoot}/*.c', '{projectRoot}/*.h', '{projectRoot}/klp-module.json', ...TOOL_INPUTS, kernelInput(m)],
      outputs: m.sources.map((s) => `{projectRoot}/${s.replace(/\.c$/, '.ko')}`),
      metadata: {
        technologies: ['kbuild'],
        description: "Build the kernel module with the kernel's kbuild",
        help: { command: `${CLI} build --help`, example: {} },
      },
    },
  };
}
