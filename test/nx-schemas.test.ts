import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { livepatchTargets, moduleTargets, targetNames } from '../packages/nx/src/plugin/targets.js';
import { ROOT } from './helpers/env.js';

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
  'executor split': { options: ['source', 'outputPath', 'kdir', 'allIncludes'], required: ['source', 'outputPath'] },
  'executor build': { options: ['path', 'kdir', 'jobs', 'config'], required: ['path'] },
  'executor verify': { options: ['path', 'targets', 'format', 'report', 'explore', 'budget', 'counterexamples'], required: ['path', 'targets'] },
  'generator init': { options: ['directory', 'source', 'targets'], required: ['directory', 'source'] },
  'generator convert': { options: ['directory', 'dryRun', 'kdir', 'allIncludes'], required: ['directory'] },
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
  const lp = { name: 'fix', markerFile: 'lps/fix/klp-livepatch.json', root: 'lps/fix', source: 'fix.c', targets: ['mod-a'], kdir: '/kernel' };
  const targets = { ...livepatchTargets(lp, modules, targetNames()), 'module build': moduleTargets(modules.get('mod-a')!, targetNames()).build! };

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
    expect(targets.split.options).toEqual({ source: 'lps/fix/fix.c', outputPath: 'lps/fix/out', kdir: '/kernel' });
    expect(targets.build.options).toEqual({ path: 'lps/fix/out', kdir: '/kernel' });
    expect(targets.verify.options).toEqual({ path: 'lps/fix/out', targets: ['mods/mod-a/mod-a.ko'], report: 'lps/fix/out/verify.json' });
    expect(targets['module build'].options).toEqual({ path: 'mods/mod-a' });
  });

  it('gives the kernel-id runtime input (run in a shell) the marker path, never the kdir', () => {
    for (const t of ['split', 'build', 'verify'] as const) {
      const runtime = (targets[t].inputs as ({ runtime?: string } | string)[]).flatMap((i) => (typeof i === 'object' && i.runtime ? [i.runtime] : []));
      expect(runtime).toEqual(["node packages/nx/bin/klp-split.js kernel-id --marker 'lps/fix/klp-livepatch.json'"]);
    }
  });
});
