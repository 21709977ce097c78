import { isAbsolute, relative, resolve } from 'node:path';
import { type CommandContext, type CommandResult, type Io, pathIn, printDiagnostics, requireRegularFile } from '@klp-split/core';
import { createLivepatch, type CreateResult } from '@klp-split/create';
import type { CreateCommandOptions } from './create-options.js';

/** A path as the user reads it: relative to the base when inside it. */
function shownFrom(base: string): (p: string) => string {
  return (p) => {
    const rel = relative(resolve(base), p);
    return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? p : rel;
  };
}

/** What create made, and the commands that build it. */
function printCreated(io: Io, r: CreateResult, shown: (p: string) => string): void {
  printDiagnostics(io, r.diagnostics);
  if (!r.ok) {
    io.out(`create ${r.name}: not created (errors above)`);
    return;
  }
  const out = shown(r.outputPath);
  io.out(`create ${r.name}: ${r.files.filter((f) => f.endsWith('.c')).join(', ')} in ${out}`);
  for (const o of r.objects) {
    io.out(`  ${o.object}: ${o.functions.map((f) => (f.sympos ? `${f.oldName},${f.sympos}` : f.oldName)).join(', ') || '(callbacks only)'}`);
  }
  const targets = r.objects.filter((o) => o.targetModule).map((o) => ` --target ${o.targetModule}`).join('');
  io.out(`build it: klp-split build ${out}${targets}`);
  if (r.split) io.out(`split: ${r.split.modules.join(', ')} in ${shown(r.split.dir)} (build it with --kdir <the split kernel's tree>)`);
}

/** `klp-split create` and @klp-split/nx:create: a livepatch from a fix, written through the write layer. */
export async function runCreate(options: CreateCommandOptions, ctx: CommandContext): Promise<CommandResult> {
  const path = (p: string | undefined): string | undefined => p && pathIn(ctx, p);
  const patches = options.patches.map((p) => pathIn(ctx, p));
  for (const p of patches) requireRegularFile('create', 'patch', p);
  if (options.kallsyms !== undefined) requireRegularFile('create', '--kallsyms dump', path(options.kallsyms)!);
  if (options.vmlinuz !== undefined) requireRegularFile('create', '--vmlinuz image', path(options.vmlinuz)!);
  const r = await createLivepatch({
    patches,
    outputPath: pathIn(ctx, options.outputPath),
    name: options.name,
    src: path(options.src),
    kdir: path(options.kdir),
    kernel: options.kernel,
    kallsyms: path(options.kallsyms),
    vmlinuz: path(options.vmlinuz),
    modulesDir: path(options.modulesDir),
    split: options.split || undefined,
    force: options.force || undefined,
  });
  if (options.json) ctx.io.out(JSON.stringify({ ok: r.ok, name: r.name, out: r.outputPath, files: r.files, objects: r.objects, split: r.split, diagnostics: r.diagnostics }, null, 2));
  else printCreated(ctx.io, r, shownFrom(ctx.base));
  return { exitCode: r.ok ? 0 : 1, diagnostics: r.diagnostics };
}
