import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildModules, buildSplit, buildTree, type BuildResult, type ModuleRelocs } from '@klp-split/kbuild-gen';
import { MANIFEST_FILE } from '@klp-split/core';
import { flag, list, parseCommandArgs, str } from './args.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from './exit-codes.js';
import { requireRegularFile, requireRegularFileIfPresent } from './input-files.js';
import { printDiagnostics, type Io } from './output.js';
import { discoverKernelTree } from '@klp-split/kernel-facts';

export const BUILD_HELP = `Usage: klp-split build <dir> [--kdir <dir> | --kernel <release>] [--jobs N] [--target <ko>]... [--force] [--json] [--quiet]

Builds <dir> with the kernel's kbuild (make -C <kdir> M=<dir>):
- a directory with klp-split.json: its split modules, through the split
  livepatch API overlay, with a generated Kbuild;
- a directory 'klp-split convert' converted (<patch>.klp-split.json): with
  its own Makefile or Kbuild and the overlay, every CONFIG symbol of its
  obj- lines set to m (override with --config);
- any other directory: each *.c as one module (target modules), with the
  directory's own Kbuild or Makefile when it has one.

  --kdir <dir>  kernel tree; default: $KDIR, then the project's kernel
                environment (scripts/kernel-env.sh), then
                /lib/modules/$(uname -r)/build
  --kernel <release>  a kernel installed with 'klp-split kernel add'
                (e.g. 6.1.0-57-amd64): its headers are the tree
  --jobs N      parallel make jobs (default: number of CPUs)
  --config K=V  a make variable (repeatable), e.g. CONFIG_SAMPLE_LIVEPATCH=m
  --symbols F   a Module.symvers of modules whose exports are used (repeatable)
  --target <ko> a built target module (repeatable): its symbols give the
                sympos of livepatch relocations against it, its exports the
                dependencies; without it sympos 0 is written unverified
  --kallsyms F  a /proc/kallsyms dump for vmlinux's symbols (default: the
                one scripts/qemu-kernel.sh cached for the tree's release)
  --no-klp-relocs  leave livepatch modules as kbuild linked them

Livepatch modules (MODULE_INFO(livepatch, "Y"): split parts and classic
livepatches alike) are rewritten after the link: references the loader
cannot resolve become .klp.rela/.klp.sym livepatch relocations (in a
per-object part also its own target's exports). 'klp-split relocs <ko>'
lists them.
  --force       replace a Kbuild file that klp-split did not write
  --json        print the result as JSON
  --quiet       no progress lines (the default when $CI is set)

Exit status: 0 built, 1 build errors, 2 usage or environment error.`;

export async function buildCommand(argv: string[], io: Io): Promise<number> {
  const args = parseCommandArgs('build', argv, {
    kdir: { type: 'string' },
    kernel: { type: 'string' },
    jobs: { type: 'string', short: 'j' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
    config: { type: 'string', multiple: true },
    symbols: { type: 'string', multiple: true },
    target: { type: 'string', multiple: true, short: 't' },
    kallsyms: { type: 'string' },
    'no-klp-relocs': { type: 'boolean' },
  });
  if (flag(args, 'help')) {
    io.out(BUILD_HELP);
    return EXIT_OK;
  }
  const [dir, ...extra] = args.positionals;
  if (!dir || extra.length) throw new UsageError('build: give exactly one directory');
  if (!existsSync(dir)) throw new UsageError(`build: ${dir} does not exist`);
  for (const f of ['Kbuild', 'Makefile']) requireRegularFileIfPresent('build', 'the build file', join(dir, f));
  const jobs = str(args, 'jobs') ? Number(str(args, 'jobs')) : undefined;
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs > 0)) throw new UsageError('build: --jobs takes a positive integer');
  const makeVars: Record<string, string> = {};
  for (const kv of list(args, 'config')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(kv);
    if (!m) throw new UsageError(`build: --config takes NAME=VALUE, not '${kv}'`);
    makeVars[m[1]!] = m[2]!;
  }
  for (const f of list(args, 'symbols')) requireRegularFile('build', '--symbols file', f);
  for (const f of list(args, 'target')) requireRegularFile('build', '--target module', f);
  const kallsyms = str(args, 'kallsyms');
  if (kallsyms !== undefined) requireRegularFile('build', '--kallsyms dump', kallsyms);
  const opts = {
    relocs: { targets: list(args, 'target').map((f) => resolve(f)), kallsyms, relocs: !flag(args, 'no-klp-relocs') },
    extraSymbols: list(args, 'symbols'),
    makeVars,
    jobs,
    force: flag(args, 'force'),
    onLine: (line: string) => {
      const m = /^\s+LD \[M\]\s+(\S+\.ko)$/.exec(line);
      if (m) io.progress(`built ${m[1]!.replace(/^.*\//, '')}`);
    },
  };
  const entries = readdirSync(dir);
  const isSplit = entries.includes(MANIFEST_FILE);
  const isConverted = !isSplit && entries.some((f) => f.endsWith(`.${MANIFEST_FILE}`));
  const sources = entries.filter((f) => f.endsWith('.c') && !f.endsWith('.mod.c')).sort();
  if (!isSplit && sources.length === 0) throw new UsageError(`build: ${dir} has neither ${MANIFEST_FILE} nor .c files`);
  const tree = discoverKernelTree({ kernel: str(args, 'kernel'), kdir: str(args, 'kdir') });
  let result: BuildResult = isSplit ? await buildSplit(dir, tree, opts) : isConverted ? await buildTree(dir, tree, opts) : await buildModules(dir, sources, tree, opts);
  if (result.ok && result.modules.length === 0) {
    // kbuild builds nothing, silently, for obj-$(CONFIG_X) with X unset.
    result = { ...result, ok: false, diagnostics: [...result.diagnostics, nothingBuilt(dir, makeVars)] };
  }
  if (flag(args, 'json')) {
    io.out(JSON.stringify({ ok: result.ok, dir: result.dir, kdir: result.tree.dir, release: result.tree.release, modules: result.modules, relocations: result.relocs ?? [], diagnostics: result.diagnostics }, null, 2));
  } else {
    printDiagnostics(io, result.diagnostics);
    for (const r of result.relocs ?? []) io.out(relocsLine(r));
    if (!result.ok && !result.diagnostics.some((d) => d.code.startsWith('cc-') || d.code.startsWith('-W') || d.code.startsWith('klp-') || d.code === 'modpost' || d.code === 'nothing-built')) io.err(result.output);
    io.out(result.ok ? `build ${dir}: ${result.modules.length} module${result.modules.length === 1 ? '' : 's'} against ${result.tree.release} (${result.tree.dir})` : `build ${dir}: FAILED`);
  }
  return result.ok ? EXIT_OK : EXIT_FINDINGS;
}

/** Why kbuild built no module: usually `obj-$(CONFIG_X)` with X not set. */
function nothingBuilt(dir: string, makeVars: Record<string, string>): BuildResult['diagnostics'][number] {
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
