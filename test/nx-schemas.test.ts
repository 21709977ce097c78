import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TargetConfiguration } from '@nx/devkit';
import { describe, expect, it } from 'vitest';
import { livepatchTargets, moduleTargets, pluginKernels, targetNames } from '../packages/nx/src/plugin/targets.js';
import { toolContext } from '../packages/nx/src/plugin/tool-context.js';
import { removeDir, ROOT, tempDir } from './helpers/env.js';

/**
 * The Nx plugin's executors and generators: what Nx reads from package.json,
 * executors.json, generators.json and the schemas, checked without running Nx.
 */
const PKG = join(ROOT, 'packages/nx');

interface Schema {
  $schema: string;
  description?: string;
  type: string;
  properties: Record<string, { type?: string; description?: string; items?: unknown; enum?: unknown[] }>;
  required?: string[];
  additionalProperties?: boolean;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(join(PKG, path), 'utf8')) as T;
}

const pkg = readJson<{ executors: string; generators: string }>('package.json');
const executors = readJson<{ executors: Record<string, { implementation: string; schema: string; description: string }> }>(pkg.executors).executors;
const generators = readJson<{ generators: Record<string, { factory: string; schema: string; description: string }> }>(pkg.generators).generators;

/** The options the brief fixes for each executor and generator (names and which are required). */
const EXPECTED: Record<string, { options: string[]; required: string[] }> = {
  'executor create': { options: ['patches', 'outputPath', 'name', 'src', 'kdir', 'kernel', 'kallsyms', 'vmlinuz', 'modulesDir', 'split', 'force', 'json'], required: ['patches', 'outputPath'] },
  'executor split': { options: ['sources', 'outputPath', 'kdir', 'targets', 'kallsyms', 'allIncludes', 'kernel', 'force', 'json'], required: ['sources', 'outputPath'] },
  'executor build': { options: ['path', 'kdir', 'jobs', 'config', 'kernel', 'outputPath', 'symbols', 'targets', 'kallsyms', 'klpRelocs', 'force', 'json', 'quiet'], required: ['path'] },
  'executor verify': { options: ['path', 'targets', 'format', 'json', 'report', 'explore', 'allowUnchecked', 'budget', 'also', 'sleeping', 'counterexamples', 'kernel', 'kallsyms', 'quiet'], required: ['path'] },
  'executor report': { options: ['paths', 'markdown', 'sarif', 'json'], required: [] },
  'generator init': { options: ['kernels'], required: [] },
  'generator livepatch': { options: ['directory', 'source', 'targets'], required: ['directory', 'source'] },
  'generator module': { options: ['directory', 'sources', 'name'], required: ['directory'] },
  'generator convert': { options: ['directory', 'dryRun', 'kdir', 'targets', 'kallsyms', 'allIncludes', 'force', 'json'], required: ['directory'] },
};

interface Entry {
  code: string;
  schema: string;
  description: string;
}

const entries: [string, Entry][] = [
  ...Object.entries(executors).map(([n, e]): [string, Entry] => [`executor ${n}`, { code: e.implementation, schema: e.schema, description: e.description }]),
  ...Object.entries(generators).map(([n, g]): [string, Entry] => [`generator ${n}`, { code: g.factory, schema: g.schema, description: g.description }]),
];

describe('the Nx plugin package', () => {
  it('declares its executors and generators in package.json', () => {
    expect(pkg.executors).toBe('./executors.json');
    expect(pkg.generators).toBe('./generators.json');
    expect(entries.map(([n]) => n).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  describe.each(entries)('%s', (name, entry) => {
    const schema = readJson<Schema>(entry.schema);

    it('resolves its implementation and schema from the package root (after tsc -b)', () => {
      expect(entry.description).toBeTruthy();
      expect(existsSync(join(PKG, entry.code)), entry.code).toBe(true);
      expect(existsSync(join(PKG, entry.schema)), entry.schema).toBe(true);
    });

    it('has a draft-07 object schema with exactly the agreed options', () => {
      expect(schema.$schema).toMatch(/draft-07/);
      expect(schema.type).toBe('object');
      expect(schema.description).toBeTruthy();
      expect(schema.additionalProperties).toBe(false);
      expect(Object.keys(schema.properties).sort()).toEqual([...EXPECTED[name]!.options].sort());
      expect([...(schema.required ?? [])].sort()).toEqual([...EXPECTED[name]!.required].sort());
    });

    it('documents and types every option', () => {
      for (const [option, p] of Object.entries(schema.properties)) {
        expect(p.description, `${name}: ${option}`).toMatch(/\S{3,}/);
        expect(p.type, `${name}: ${option}`).toBeTruthy();
        if (p.type === 'array') expect(p.items, `${name}: ${option}`).toBeTruthy();
      }
    });
  });
});

describe('the inferred targets', () => {
  const modules = new Map([['mod-a', { name: 'mod-a', markerFile: 'mods/mod-a/klp-module.json', root: 'mods/mod-a', sources: ['mod-a.c'] }]]);
  const lp = { name: 'fix', markerFile: 'lps/fix/klp-livepatch.json', root: 'lps/fix', sources: ['fix.c'], targets: ['mod-a'], kdir: '/kernel' };
  const tool = toolContext(ROOT);
  const targets: Record<string, TargetConfiguration> = { ...livepatchTargets(lp, modules, targetNames(), tool), 'module build': moduleTargets(modules.get('mod-a')!, targetNames(), tool).build! };

  it.each(Object.entries(targets))('%s runs a registered executor with options its schema accepts', (_, target) => {
    expect(target.command).toBeUndefined();
    const [pkgName, executor] = target.executor!.split(':');
    expect(pkgName).toBe('@klp-split/nx');
    const schema = readJson<Schema>(executors[executor!]!.schema);
    const options = target.options as Record<string, unknown>;
    for (const key of Object.keys(options)) expect(Object.keys(schema.properties)).toContain(key);
    for (const key of schema.required ?? []) expect(options).toHaveProperty(key);
  });

  it('passes the marker paths to the executors', () => {
    expect(targets.split!.options).toEqual({ sources: ['lps/fix/fix.c'], outputPath: 'lps/fix/out', kdir: '/kernel' });
    expect(targets.build!.options).toEqual({ path: 'lps/fix/out', kdir: '/kernel' });
    expect(targets.verify!.options).toEqual({ path: 'lps/fix/out', targets: ['mods/mod-a/mod-a.ko'], report: 'lps/fix/out/verify.json' });
    expect(targets['module build']!.options).toEqual({ path: 'mods/mod-a' });
  });

  it('gives the kernel-id runtime input (run in a shell) the marker path, never the kdir', () => {
    for (const t of ['split', 'build', 'verify'] as const) {
      const runtime = (targets[t]!.inputs as ({ runtime?: string } | string)[]).flatMap((i) => (typeof i === 'object' && i.runtime ? [i.runtime] : []));
      expect(runtime).toEqual(["node packages/nx/bin/klp-split.js kernel-id --marker 'lps/fix/klp-livepatch.json'"]);
    }
  });
});

describe('the inferred targets with the option kernels (issue 16)', () => {
  const modules = new Map([['mod-a', { name: 'mod-a', markerFile: 'mods/mod-a/klp-module.json', root: 'mods/mod-a', sources: ['mod-a.c'] }]]);
  const lp = { name: 'fix', markerFile: 'lps/fix/klp-livepatch.json', root: 'lps/fix', sources: ['fix.c'], targets: ['mod-a'] };
  const kernels = ['6.1.0-57-amd64', '6.12.117+deb12-amd64'];
  const tool = toolContext(ROOT);
  const lpTargets = livepatchTargets(lp, modules, targetNames(), tool, kernels);
  const modTargets = moduleTargets(modules.get('mod-a')!, targetNames(), tool, kernels);

  it('gives each kernel its own split, build and verify, and verify runs them all', () => {
    expect(Object.keys(lpTargets).sort()).toEqual(['build', 'build:6.1.0-57-amd64', 'build:6.12.117+deb12-amd64', 'report', 'split', 'split:6.1.0-57-amd64', 'split:6.12.117+deb12-amd64', 'verify', 'verify:6.1.0-57-amd64', 'verify:6.12.117+deb12-amd64']);
    expect(lpTargets.verify!.dependsOn).toEqual(['verify:6.1.0-57-amd64', 'verify:6.12.117+deb12-amd64']);
    expect(lpTargets['verify:6.12.117+deb12-amd64']!.dependsOn).toEqual(['build:6.12.117+deb12-amd64', { projects: ['mod-a'], target: 'build:6.12.117+deb12-amd64' }]);
    expect(lpTargets['verify:6.12.117+deb12-amd64']!.options).toEqual({ path: 'lps/fix/out/6.12.117+deb12-amd64', targets: ['mods/mod-a/out/6.12.117+deb12-amd64/mod-a.ko'], report: 'lps/fix/out/6.12.117+deb12-amd64/verify.json', kernel: '6.12.117+deb12-amd64' });
    expect(modTargets['build:6.1.0-57-amd64']!.options).toEqual({ path: 'mods/mod-a', outputPath: 'mods/mod-a/out/6.1.0-57-amd64', kernel: '6.1.0-57-amd64' });
    expect(modTargets['build:6.1.0-57-amd64']!.outputs).toEqual(['{projectRoot}/out/6.1.0-57-amd64/mod-a.ko']);
  });

  it("keys each kernel's tasks on that kernel's identity, through the package's bin", () => {
    for (const k of kernels) {
      for (const t of [lpTargets[`split:${k}`]!, lpTargets[`build:${k}`]!, lpTargets[`verify:${k}`]!, modTargets[`build:${k}`]!]) {
        const runtime = (t.inputs as ({ runtime?: string } | string)[]).flatMap((i) => (typeof i === 'object' && i.runtime ? [i.runtime] : []));
        expect(runtime).toEqual([`node packages/nx/bin/klp-split.js kernel-id --kernel ${k}`]);
      }
    }
  });

  it('refuses a kernel that is no release before any target carries it into a shell', () => {
    expect(() => pluginKernels({ kernels: ['6.1.0-57-amd64; rm -rf /'] })).toThrow(/not a kernel release/);
    expect(() => pluginKernels({ kernels: ['../x'] })).toThrow(/not a kernel release/);
  });

  it('gives every target a help command and a runnable example of its options', () => {
    for (const [name, t] of Object.entries({ ...lpTargets, ...modTargets })) {
      if (t.executor === 'nx:noop') continue;
      const help = (t.metadata as { help: { command: string; example: { options: unknown } } }).help;
      expect(help.command, name).toMatch(/^node packages\/nx\/bin\/klp-split\.js (split|build|verify|report) --help$/);
      expect(help.example.options, name).toEqual(t.options);
    }
  });

  it('in a workspace where klp-split is installed, the tool is an external dependency and the bin is under node_modules', () => {
    const ws = tempDir('tool-context');
    try {
      mkdirSync(join(ws, 'node_modules/@klp-split'), { recursive: true });
      symlinkSync(join(ROOT, 'packages/nx'), join(ws, 'node_modules/@klp-split/nx'));
      // Without a lock file that has the package, Nx has no external node for it: the bin's version instead.
      expect(toolContext(ws)).toEqual({ cli: 'node node_modules/@klp-split/nx/bin/klp-split.js', inputs: [{ runtime: 'node node_modules/@klp-split/nx/bin/klp-split.js --version' }] });
      writeFileSync(join(ws, 'package-lock.json'), JSON.stringify({ packages: { 'node_modules/@klp-split/nx': { version: '0.1.0' } } }));
      expect(toolContext(ws).inputs).toEqual([{ externalDependencies: ['@klp-split/nx', '@klp-split/core', '@klp-split/kernel-facts', '@klp-split/splitter', '@klp-split/runtime-sim', '@klp-split/klp-relocs', '@klp-split/kbuild-gen', '@klp-split/create'] }]);
    } finally {
      removeDir(ws);
    }
    expect(tool.inputs).toContain('{workspaceRoot}/packages/*/src/**/*.ts');
  });
});
