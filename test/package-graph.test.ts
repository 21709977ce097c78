import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The package graph, read from the sources (tests included): core at the
 * bottom, kernel-facts over it, the splitter, the simulator and the
 * relocation writer side by side, kbuild-gen over the relocation writer, the
 * CLI and Nx plugin on top. A package imports only packages of a lower
 * layer, so there is no cycle; a test that reaches into test/ helpers
 * carries the helpers' imports.
 */
const ROOT = resolve(import.meta.dirname, '..');
const LAYER: Record<string, number> = { core: 0, 'kernel-facts': 1, splitter: 2, 'runtime-sim': 2, 'klp-relocs': 2, 'kbuild-gen': 3, nx: 4 };
const PACKAGES = Object.keys(LAYER);

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

interface Import {
  spec: string;
  dynamic: boolean;
}

/** Static imports and re-exports, and import() calls, as the compiler reads them (not strings in code or comments). */
function importsOf(file: string): Import[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: Import[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push({ spec: node.moduleSpecifier.text, dynamic: false });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      out.push({ spec: node.arguments[0].text, dynamic: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function packageOf(path: string): string | undefined {
  const m = /^packages\/([^/]+)\//.exec(relative(ROOT, path));
  return m ? m[1] : undefined;
}

function resolveRelative(from: string, spec: string): string | undefined {
  const target = resolve(dirname(from), spec);
  return [target.replace(/\.js$/, '.ts'), target, `${target}.ts`].find((p) => existsSync(p) && p.endsWith('.ts'));
}

/** The packages a file depends on: @klp-split/* specifiers, relative paths into packages/, and what test/ files it reaches import. */
function packageImports(file: string, seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  if (seen.has(file)) return out;
  seen.add(file);
  for (const { spec } of importsOf(file)) {
    const m = /^@klp-split\/([^/]+)/.exec(spec);
    if (m) out.add(m[1]!);
    if (!spec.startsWith('.')) continue;
    const target = resolveRelative(file, spec);
    if (!target) continue;
    const pkg = packageOf(target);
    if (pkg) out.add(pkg);
    else if (relative(ROOT, target).startsWith('test/')) for (const p of packageImports(target, seen)) out.add(p);
  }
  return out;
}

const sources = new Map(PACKAGES.map((p) => [p, tsFiles(join(ROOT, 'packages', p, 'src'))]));
const isTest = (f: string): boolean => /\.test\.ts$/.test(f);

/** package -> packages its files import (other than itself), with the importing files. */
function graph(filter: (f: string) => boolean): Map<string, Map<string, string[]>> {
  const g = new Map<string, Map<string, string[]>>();
  for (const [pkg, files] of sources) {
    const edges = new Map<string, string[]>();
    for (const f of files.filter(filter)) {
      for (const dep of packageImports(f)) if (dep !== pkg) edges.set(dep, [...(edges.get(dep) ?? []), relative(ROOT, f)]);
    }
    g.set(pkg, edges);
  }
  return g;
}

const all = graph(() => true);
const code = graph((f) => !isTest(f));
const deps = (pkg: string): string[] => [...all.get(pkg)!.keys()].sort();

describe('the package graph', () => {
  it('reads every package and finds imports (the test can see an edge)', () => {
    for (const p of PACKAGES) expect(sources.get(p)!.length, p).toBeGreaterThan(0);
    expect(deps('nx')).toEqual(PACKAGES.filter((p) => p !== 'nx').sort());
  });

  it('core imports no other package', () => {
    expect(deps('core')).toEqual([]);
  });

  it('kernel-facts imports only core', () => {
    expect(deps('kernel-facts')).toEqual(['core']);
  });

  it('klp-relocs and runtime-sim import neither the splitter nor each other', () => {
    for (const p of ['klp-relocs', 'runtime-sim']) {
      expect(all.get(p)!.get('splitter'), `${p} imports the splitter`).toBeUndefined();
    }
    expect(all.get('klp-relocs')!.get('runtime-sim')).toBeUndefined();
    expect(all.get('runtime-sim')!.get('klp-relocs')).toBeUndefined();
  });

  it('no package imports a package of its own layer or one above it, tests included', () => {
    const wrong: string[] = [];
    for (const [pkg, edges] of all) {
      for (const [dep, files] of edges) if (LAYER[dep]! >= LAYER[pkg]!) wrong.push(`${pkg} -> ${dep} (${files.join(', ')})`);
    }
    expect(wrong).toEqual([]);
  });

  it('has no cycle, tests included', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (p: string, path: string[]): void => {
      if (state.get(p) === 'done') return;
      if (state.get(p) === 'open') {
        cycles.push([...path.slice(path.indexOf(p)), p].join(' -> '));
        return;
      }
      state.set(p, 'open');
      for (const d of all.get(p)?.keys() ?? []) visit(d, [...path, p]);
      state.set(p, 'done');
    };
    for (const p of PACKAGES) visit(p, []);
    expect(cycles).toEqual([]);
  });

  it("declares in package.json and tsconfig.json exactly the packages its code imports", () => {
    for (const p of PACKAGES) {
      const used = [...code.get(p)!.keys()].sort();
      const pkgJson = JSON.parse(readFileSync(join(ROOT, 'packages', p, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      const declared = Object.keys(pkgJson.dependencies ?? {})
        .filter((d) => d.startsWith('@klp-split/'))
        .map((d) => d.slice('@klp-split/'.length))
        .sort();
      expect(declared, `${p}/package.json`).toEqual(used);
      const tsconfig = JSON.parse(readFileSync(join(ROOT, 'packages', p, 'tsconfig.json'), 'utf8')) as { references?: { path: string }[] };
      expect((tsconfig.references ?? []).map((r) => r.path.replace('../', '')).sort(), `${p}/tsconfig.json`).toEqual(used);
    }
  });

  it('the workspace lists every package, in layer order', () => {
    const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
    const listed = root.workspaces.map((w) => w.replace('packages/', ''));
    expect([...listed].sort()).toEqual([...PACKAGES].sort());
    expect(listed.map((p) => LAYER[p])).toEqual([...listed.map((p) => LAYER[p])].sort());
  });
});

describe('what the command line loads before a command runs', () => {
  /** Modules reachable from `from` through static imports only (import() is where loading is deferred). */
  function staticClosure(from: string): Set<string> {
    const out = new Set<string>();
    const todo = [from];
    while (todo.length) {
      const f = todo.pop()!;
      if (out.has(f)) continue;
      out.add(f);
      for (const { spec, dynamic } of importsOf(f)) {
        if (dynamic) continue;
        const m = /^@klp-split\/([^/]+)$/.exec(spec);
        const target = m ? join(ROOT, 'packages', m[1]!, 'src/index.ts') : spec.startsWith('.') ? resolveRelative(f, spec) : undefined;
        if (target) todo.push(target);
        else if (!spec.startsWith('.')) out.add(`external:${spec}`);
      }
    }
    return out;
  }

  const closure = staticClosure(join(ROOT, 'packages/nx/src/cli/main.ts'));

  it('neither the splitter nor tree-sitter: split and convert import them when they run', () => {
    const shown = [...closure].map((f) => relative(ROOT, f));
    expect(shown).toContain('packages/nx/src/cli/verify-command.ts');
    expect(shown).toContain('packages/nx/src/cli/build-command.ts');
    expect(shown.filter((f) => f.startsWith('packages/splitter/') || f.includes('tree-sitter'))).toEqual([]);
    expect(shown).not.toContain('packages/nx/src/cli/split-command.ts');
    // The split command itself does reach them (so the check above can fail).
    const split = [...staticClosure(join(ROOT, 'packages/nx/src/cli/split-command.ts'))].map((f) => relative(ROOT, f));
    expect(split).toContain('packages/splitter/src/index.ts');
    expect(split.filter((f) => f.includes('tree-sitter')).length).toBeGreaterThan(0);
  });
});
