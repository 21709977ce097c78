import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ensureCacheDir, hasErrors, KlpError, readInputText, readSourceText, withWriteTransaction, type Diagnostic, type WriteReport } from '@klp-split/core';
import { discoverKernelTree, includeDirs, kernelSourceTree, loadSymvers, readKallsyms, VMLINUX } from '@klp-split/kernel-facts';
import { extractVmlinux, locateKernelBinaries, moduleFile, readModule, type KernelBinaries } from './binary/kernel-binaries.js';
import { ModuleCode, VmlinuxCode, type ObjectCode } from './binary/object-code.js';
import { compareFiles } from './diff/file-changes.js';
import { diagnosticAt, siteOf } from './diff/sites.js';
import { kbuildText, localIncludeDirs } from './emit/kbuild.js';
import { HeaderIndex } from './emit/include-choice.js';
import { livepatchSource, type FileSection } from './emit/livepatch-source.js';
import { CREATE_RECORD, previousCreated, recordText, type CreateRecordObject } from './emit/record.js';
import { KernelConfig } from './model/conditions.js';
import { readKernelFile } from './model/kernel-file.js';
import { headerUsers } from './objects/header-users.js';
import { ObjectResolver } from './objects/object-of-file.js';
import { checkCreateOptions, type CreateOptions } from './options.js';
import { applyPatches, type PatchedFile } from './patch/patch-set.js';
import { closeOver } from './plan/closure.js';
import { planFile } from './plan/patch-plan.js';
import { splitCreated, type SplitOutcome } from './split-output.js';
import { changeRefusals, fileRefusal } from './rules/refusals.js';
import { KernelSource } from './source/kernel-source.js';

/**
 * `create`: from a fix to a livepatch, in stages, each in its own file:
 * apply the patches to copies of the kernel source (patch/), compare each
 * file's definitions before and after (diff/), find each file's object
 * from kbuild's Makefiles (objects/), refuse what a livepatch cannot do
 * (rules/), decide what to replace against the kernel's binaries
 * (binary/, plan/), take what those functions need (plan/closure.ts), and
 * write a classic livepatch directory (emit/), optionally split (--split).
 * Nothing is written when an error is found.
 */

export interface CreateResult {
  ok: boolean;
  name: string;
  outputPath: string;
  diagnostics: Diagnostic[];
  /** Files of the livepatch directory, and those this run wrote. */
  files: string[];
  write?: WriteReport;
  objects: CreateRecordObject[];
  split?: SplitOutcome;
}

/** `livepatch_` and the first patch file's name, as a module name. */
export function defaultName(patch: string): string {
  const base = basename(patch).replace(/\.(patch|diff)$/, '').replace(/^\d{4}-/, '');
  return `livepatch_${base.replace(/[^A-Za-z0-9_]/g, '_').replace(/_+/g, '_')}`.slice(0, 40).replace(/_$/, '');
}

interface Environment {
  source: KernelSource;
  config: KernelConfig;
  release: string;
  exports: Set<string>;
  binaries: KernelBinaries;
  headers: HeaderIndex;
}

function environment(o: CreateOptions): Environment {
  // First: one kernel-env.sh run then answers the kernel tree's question too.
  const sourceRoot = o.src ?? kernelSourceTree();
  const tree = discoverKernelTree({ kdir: o.kdir, kernel: o.kernel });
  const configPath = join(tree.dir, '.config');
  if (!existsSync(configPath)) throw new KlpError(`kernel tree ${tree.dir} has no .config: its configuration decides which objects are built`, { code: 'kernel-config-missing' });
  const config = new KernelConfig(configPath, readInputText(configPath, 'source', { what: 'kernel .config' }));
  const source = new KernelSource(sourceRoot);
  const version = source.version();
  const release = /^(\d+)\.(\d+)/.exec(tree.release);
  // The fix is read in one source and checked against another kernel's binaries: only when they are one series.
  if (version && release && `${release[1]}.${release[2]}` !== version) {
    throw new KlpError(`the source tree ${source.root} is Linux ${version}, but kernel ${tree.release} is ${release[1]}.${release[2]}: a fix is made into a livepatch against its own kernel's source`, { code: 'create-source-mismatch', hint: `give the source of ${tree.release} with --src` });
  }
  const exports = new Set([...loadSymvers(tree.symvers).vmlinux.keys()]);
  const binaries = locateKernelBinaries(tree.release, ensureCacheDir(), { kallsyms: o.kallsyms ?? tree.kallsyms, vmlinuz: o.vmlinuz, modulesDir: o.modulesDir });
  return { source, config, release: tree.release, exports, binaries, headers: new HeaderIndex(includeDirs(tree)) };
}

/** The binary of each object, loaded once. */
class Binaries {
  readonly #codes = new Map<string, ObjectCode>();
  #vmlinux?: VmlinuxCode;
  constructor(readonly b: KernelBinaries) {}

  vmlinux(): VmlinuxCode {
    this.#vmlinux ??= new VmlinuxCode(readKallsyms(this.b.kallsyms()), extractVmlinux(this.b.vmlinuz()));
    return this.#vmlinux;
  }

  /** A module's code, or undefined when the release has no such module. */
  module(object: string, file: string): { code: ObjectCode; path: string } | undefined {
    const path = moduleFile(this.b.modulesDir(), file);
    if (!path) return undefined;
    let code = this.#codes.get(path);
    if (!code) {
      code = new ModuleCode(object, path, readModule(path));
      this.#codes.set(path, code);
    }
    return { code, path };
  }
}

export async function createLivepatch(raw: CreateOptions): Promise<CreateResult> {
  const o = checkCreateOptions(raw);
  const name = o.name ?? defaultName(o.patches[0]!);
  const outputPath = resolve(o.outputPath);
  const result: CreateResult = { ok: false, name, outputPath, diagnostics: [], files: [], objects: [] };
  const env = environment(o);
  const inputs = o.patches.map((p) => ({ file: p, text: readSourceText(p, { what: 'patch' }) }));
  const applied = applyPatches(inputs, env.source);
  result.diagnostics.push(...applied.diagnostics);
  if (hasErrors(applied.diagnostics)) return result;

  const resolver = new ObjectResolver(env.source, env.config);
  const binaries = new Binaries(env.binaries);
  const sections: FileSection[] = [];
  const objects = new Map<string, CreateRecordObject>();
  for (const file of applied.files) {
    const refused = fileRefusal(file);
    if (refused) {
      result.diagnostics.push(refused);
      continue;
    }
    const section = analyseFile(file, env, resolver, binaries, result.diagnostics, objects);
    if (section) sections.push(section);
  }
  if (hasErrors(result.diagnostics)) return result;
  if (!sections.some((s) => s.plan.patched.length || s.plan.callbacks.length)) {
    result.diagnostics.push({ file: o.patches[0]!, line: 0, col: 0, severity: 'error', code: 'create-nothing-to-patch', message: 'the fix changes no function the running kernel has (only comments, layout, or code that is not built)' });
    return result;
  }
  // vmlinux first, as livepatches list their objects.
  result.objects = [...objects.values()].sort((a, b) => (a.object === VMLINUX ? -1 : b.object === VMLINUX ? 1 : 0));

  const files = new Map<string, Buffer>();
  files.set(`${name}.c`, Buffer.from(livepatchSource({
    name,
    patches: o.patches.map((p) => basename(p)),
    sections,
    headers: env.headers,
    onDroppedInclude: (s, inc, hidden) =>
      result.diagnostics.push(diagnosticAt(s.plan.file, inc, 'note', 'create-include-left-out', `${inc.text.trim()} is left out: it uses ${hidden}, which the kernel's headers hide from modules, and the livepatch needs nothing it declares`)),
  }), 'utf8'));
  files.set('Kbuild', Buffer.from(kbuildText(name, o.patches.map((p) => basename(p)), env.source.root, localIncludeDirs(sections)), 'utf8'));
  const record = recordText({ patch: name, patches: o.patches.map((p) => resolve(p)), source: env.source.root, release: env.release, objects: result.objects }, files);
  files.set(CREATE_RECORD, Buffer.from(record, 'utf8'));
  result.files = [...files.keys()];
  result.write = withWriteTransaction(outputPath, (tx) =>
    tx.commit({ files, previous: previousCreated(outputPath), force: o.force, mayReplace: (n, cur) => n === CREATE_RECORD && cur.toString('utf8').includes('"tool": "klp-split') }),
  );
  if (o.split) {
    result.split = splitCreated(join(outputPath, `${name}.c`), join(outputPath, 'split'), localIncludeDirs(sections).map((d) => join(env.source.root, d)), o.force ?? false);
    result.diagnostics.push(...result.split.diagnostics);
  }
  result.ok = !hasErrors(result.diagnostics);
  return result;
}

/**
 * A changed header: its layouts and data are refused as in a .c file; a
 * changed static inline or macro is compiled into every object that uses
 * it, so it is refused naming them (a livepatch replaces functions of
 * objects; the change goes into their .c files).
 */
function headerRefusals(file: PatchedFile, env: Environment, resolver: ObjectResolver): Diagnostic[] {
  const changes = compareFiles(file.path, readKernelFile(file.path, file.before!, env.config), readKernelFile(file.path, file.after!, env.config));
  const out = changeRefusals(file, changes);
  for (const c of changes.changes) {
    const d = c.after ?? c.before!;
    if (out.some((o) => o.line === siteOf(file, d, c.after ? 'after' : 'before').line)) continue;
    const inline = c.what === 'macro' || (c.what === 'function' && (d.specifiers.has('inline') || d.specifiers.has('__always_inline')));
    if (c.kind === 'changed' && inline && c.name) {
      const users = headerUsers(env.source, resolver, file.path, [c.name]);
      const objects = [...new Set(users.map((u) => u.object))];
      const list = users.slice(0, 12).map((u) => `${u.file} (${u.object})`).join(', ') + (users.length > 12 ? `, ... ${users.length} files` : '');
      out.push(diagnosticAt(file, c.after, 'error', 'create-header-inline', `changed ${c.what === 'macro' ? 'macro' : 'static inline'} '${c.name}' of ${file.path} is compiled into ${users.length} file${users.length === 1 ? '' : 's'} of ${objects.length} object${objects.length === 1 ? '' : 's'}${users.length ? `: ${list}` : ''}; a livepatch replaces those objects' functions, not the header (make the change in the .c files whose functions must change)`));
    } else if (c.what !== 'prototype' && c.what !== 'include') {
      out.push(diagnosticAt(file, d, 'error', 'create-header-changed', `${c.kind} ${c.what} '${c.name ?? d.text.split('\n')[0]!.trim().slice(0, 40)}' in the header ${file.path}: the livepatch is compiled against the kernel's own headers (put what the fix needs into the .c file)`, c.after ? 'after' : 'before'));
    }
  }
  return out;
}

function analyseFile(file: PatchedFile, env: Environment, resolver: ObjectResolver, binaries: Binaries, diagnostics: Diagnostic[], objects: Map<string, CreateRecordObject>): FileSection | undefined {
  if (/\.h$/.test(file.path) && file.before !== undefined && file.after !== undefined) {
    diagnostics.push(...headerRefusals(file, env, resolver));
    return undefined;
  }
  if (!/\.c$/.test(file.path)) {
    diagnostics.push({ file: file.path, line: 1, col: 1, severity: 'error', code: 'create-not-c', message: `the fix changes ${file.path}, which is neither C source nor header` });
    return undefined;
  }
  if (file.before === undefined || file.after === undefined) {
    diagnostics.push({ file: file.path, line: 1, col: 1, severity: 'error', code: 'create-file-added-or-removed', message: `the fix ${file.before === undefined ? 'adds' : 'deletes'} ${file.path}: a livepatch changes functions of objects already built` });
    return undefined;
  }
  const before = readKernelFile(file.path, file.before, env.config);
  const after = readKernelFile(file.path, file.after, env.config);
  const changes = compareFiles(file.path, before, after);
  const refusals = changeRefusals(file, changes);
  diagnostics.push(...refusals);
  if (!changes.changes.length) {
    diagnostics.push({ file: file.path, line: 0, col: 0, severity: 'note', code: 'create-no-change', message: `the fix changes only comments or layout in ${file.path}: nothing to patch there` });
    return undefined;
  }
  const obj = resolver.objectOf(file.path);
  if (!obj.ok) {
    diagnostics.push({ file: file.path, line: 0, col: 0, severity: 'error', code: obj.reason === 'not-built' ? 'create-not-built' : 'create-object-unknown', message: `cannot tell which object ${file.path} is built into: ${obj.message}` });
    return undefined;
  }
  if (refusals.some((r) => r.severity === 'error')) return undefined;
  let code: ObjectCode;
  let targetModule: string | undefined;
  if (obj.object === VMLINUX) code = binaries.vmlinux();
  else {
    const m = binaries.module(obj.object, obj.moduleFile!);
    if (!m) {
      diagnostics.push({ file: file.path, line: 0, col: 0, severity: 'error', code: 'create-module-missing', message: `${file.path} is built into the module ${obj.object} (${obj.via.at(-1)}), which ${env.binaries.modulesDir()} does not have` });
      return undefined;
    }
    code = m.code;
    targetModule = m.path;
  }
  const plan = planFile(file, changes, obj.object, code);
  // Exports of vmlinux are linked normally; everything of a module goes through livepatch relocations (its own exports too).
  const closure = closeOver(plan, (n) => obj.object === VMLINUX && env.exports.has(n));
  diagnostics.push(...plan.diagnostics, ...closure.diagnostics);
  const rec = objects.get(obj.object) ?? { object: obj.object, sources: [], functions: [], ...(targetModule ? { targetModule } : {}) };
  rec.sources.push(file.path);
  for (const p of plan.patched) for (const e of p.entries) rec.functions.push({ name: p.name, oldName: e.oldName, sympos: e.sympos, reason: p.reason });
  objects.set(obj.object, rec);
  return { plan, closure };
}
