import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type CommandContext, type CommandResult, type Diagnostic, MANIFEST_FILE, pathIn, printDiagnostics, requireRegularFile, requireRegularFileIfPresent, UsageError } from '@klp-split/core';
import { discoverKernelTree } from '@klp-split/kernel-facts';
import { buildModules, buildSplit, buildTree, type BuildResult } from '../build.js';
import type { ModuleRelocs } from '../livepatch-relocs.js';
import type { BuildCommandOptions } from './build-options.js';

export interface BuildCommandResult extends CommandResult {
  build: BuildResult;
}

/** Kbuild's inputs of a module directory: its sources, headers and own Kbuild/Makefile (not kbuild's products). */
const MODULE_INPUT = /^(?!.*\.mod\.c$).*\.[ch]$|^(Kbuild|Makefile)$/;

/** Copies a module directory's sources into `to` (replacing what an earlier build copied), for a build per kernel. */
function copySources(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(to)) if (MODULE_INPUT.test(f)) rmSync(join(to, f), { force: true });
  for (const e of readdirSync(from, { withFileTypes: true })) if (e.isFile() && MODULE_INPUT.test(e.name)) copyFileSync(join(from, e.name), join(to, e.name));
}

/** Why kbuild built no module: usually `obj-$(CONFIG_X)` with X not set. */
function nothingBuilt(dir: string, makeVars: Record<string, string>): Diagnostic {
  for (const name of ['Kbuild', 'Makefile']) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const lines = readFileSync(path, 'latin1').split('\n');
    const unset = new Map<string, number>();
    lines.forEach((l, i) => {
      for (const m of l.matchAll(/\bobj-\$\((CONFIG_[A-Za-z0-9_]+)\)/g)) if (!makeVars[m[1]!] && !unset.has(m[1]!)) unset.set(m[1]!, i + 1);
    });
    if (unset.size) {
      const [first, line] = [...unset][0]!;
      const configs = [...unset.keys()].map((c) => `--config ${c}=m`).join(' ');
      return { file: path, line, col: 1, severity: 'error', code: 'nothing-built', message: `no module was built: ${name} adds its modules with obj-$(${first})${unset.size > 1 ? ' and others' : ''}, which is not set outside the kernel's configuration; pass ${configs}` };
    }
    return { file: path, line: 0, col: 0, severity: 'error', code: 'nothing-built', message: `no module was built: ${name} lists no module kbuild builds here (obj-m or obj-y := <name>.o)` };
  }
  return { file: dir, line: 0, col: 0, severity: 'error', code: 'nothing-built', message: 'no module was built' };
}

/** `relocs <module>: <sym> -> .klp.sym...; .klp.rela.<obj>.<sec> (n)`: what the pass converted in one module. */
function relocsLine(r: ModuleRelocs): string {
  const syms = r.symbols.map((s) => `${s.name} -> ${s.klpName}`).join(', ');
  const secs = Object.entries(r.sections).map(([s, n]) => `${s} (${n})`).join(', ');
  const deps = r.droppedDepends.length ? `; depends no longer names ${r.droppedDepends.join(', ')}` : '';
  return `relocs ${r.module}: ${r.symbols.length} symbol${r.symbols.length === 1 ? '' : 's'} to livepatch relocations: ${syms}; ${secs}${deps}`;
}

/** Diagnostics that already say why the build failed: kbuild's raw output would only repeat them. */
const EXPLAINED = (d: Diagnostic): boolean => d.code.startsWith('cc-') || d.code.startsWith('-W') || d.code.startsWith('klp-') || d.code === 'modpost' || d.code === 'nothing-built';

/**
 * `klp-split build` and @klp-split/nx:build: builds split modules, a
 * converted directory or target modules with the kernel's kbuild (into a
 * copy with outputPath), writes livepatch relocations after the link, and
 * reports a build that built nothing as the error it is.
 */
export async function runBuild(options: BuildCommandOptions, ctx: CommandContext): Promise<BuildCommandResult> {
  const source = pathIn(ctx, options.path);
  if (!existsSync(source)) throw new UsageError(`build: ${options.path} does not exist`);
  for (const f of ['Kbuild', 'Makefile']) requireRegularFileIfPresent('build', 'the build file', join(source, f));
  const makeVars = options.config ?? {};
  for (const k of Object.keys(makeVars)) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new UsageError(`build: --config takes NAME=VALUE, not '${k}=${makeVars[k]}'`);
  const symbols = (options.symbols ?? []).map((f) => pathIn(ctx, f));
  for (const f of symbols) requireRegularFile('build', '--symbols file', f);
  const targets = (options.targets ?? []).map((f) => pathIn(ctx, f));
  for (const f of targets) requireRegularFile('build', '--target module', f);
  const kallsyms = options.kallsyms && pathIn(ctx, options.kallsyms);
  if (kallsyms !== undefined) requireRegularFile('build', '--kallsyms dump', kallsyms);

  const dir = options.outputPath ? pathIn(ctx, options.outputPath) : source;
  const shown = options.outputPath ?? options.path;
  if (options.outputPath) copySources(source, dir);
  const entries = readdirSync(dir);
  const isSplit = entries.includes(MANIFEST_FILE);
  const isConverted = !isSplit && entries.some((f) => f.endsWith(`.${MANIFEST_FILE}`));
  const sources = entries.filter((f) => f.endsWith('.c') && !f.endsWith('.mod.c')).sort();
  if (!isSplit && sources.length === 0) throw new UsageError(`build: ${shown} has neither ${MANIFEST_FILE} nor .c files`);
  const tree = discoverKernelTree({ kernel: options.kernel, kdir: options.kdir && pathIn(ctx, options.kdir) });
  const opts = {
    relocs: { targets: targets.map((f) => resolve(f)), kallsyms, relocs: options.klpRelocs },
    extraSymbols: symbols,
    makeVars,
    jobs: options.jobs,
    force: options.force === true,
    onLine: (line: string) => {
      const m = /^\s+LD \[M\]\s+(\S+\.ko)$/.exec(line);
      if (m) ctx.io.progress(`built ${m[1]!.replace(/^.*\//, '')}`);
    },
  };
  let result = isSplit ? await buildSplit(dir, tree, opts) : isConverted ? await buildTree(dir, tree, opts) : await buildModules(dir, sources, tree, opts);
  // kbuild builds nothing, silently, for obj-$(CONFIG_X) with X unset.
  if (result.ok && result.modules.length === 0) result = { ...result, ok: false, diagnostics: [...result.diagnostics, nothingBuilt(dir, makeVars)] };

  const { io } = ctx;
  if (options.json) {
    io.out(JSON.stringify({ ok: result.ok, dir: result.dir, kdir: result.tree.dir, release: result.tree.release, modules: result.modules, relocations: result.relocs ?? [], diagnostics: result.diagnostics }, null, 2));
  } else {
    printDiagnostics(io, result.diagnostics);
    for (const r of result.relocs ?? []) io.out(relocsLine(r));
    if (!result.ok && !result.diagnostics.some(EXPLAINED)) io.err(result.output);
    io.out(result.ok ? `build ${shown}: ${result.modules.length} module${result.modules.length === 1 ? '' : 's'} against ${result.tree.release} (${result.tree.dir})` : `build ${shown}: FAILED`);
  }
  return { exitCode: result.ok ? 0 : 1, diagnostics: result.diagnostics, build: result };
}
