import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kbuildModuleName, readSourceText, type Diagnostic, MANIFEST_FILE, type SymbolFacts } from '@klp-split/core';
import { convertMakefile, dropFromComposite, modulesOfParts, type ConvertedLivepatch } from '@klp-split/kbuild-gen';
import { compositeModules, outputBytes, previousGenerated, splitFile, splitModule, splitOutputBytes, type SplitResult } from '@klp-split/splitter';

/**
 * The one-shot converter: rewrites every livepatch of a kernel source
 * directory into split form in place (main file replaced, per-object files
 * and shared headers added, one manifest per patch) and adds the per-object
 * modules to the directory's Makefile or Kbuild next to their livepatch.
 */
export interface ConvertPlan {
  dir: string;
  /** File name to its new bytes, for every file that changes or appears. */
  files: Map<string, Buffer>;
  /** The user's files this conversion rewrites in place on purpose: each livepatch source it splits, the Makefile or Kbuild. */
  inPlace: Set<string>;
  /** Per source: what happened to it. */
  sources: { file: string; kind: SplitResult['kind']; modules: string[] }[];
  diagnostics: Diagnostic[];
}

/** Manifest of one converted livepatch in a directory that holds several. */
function convertedManifestName(fileBase: string): string {
  return `${fileBase}.${MANIFEST_FILE}`;
}

export function planConversion(dir: string, opts: { includeDirs?: string[]; preprocess?: (path: string, source: string) => string | undefined; facts?: SymbolFacts } = {}): ConvertPlan {
  const plan: ConvertPlan = { dir, files: new Map(), inPlace: new Set(), sources: [], diagnostics: [] };
  const livepatches: ConvertedLivepatch[] = [];
  const sources = readdirSync(dir).filter((f) => f.endsWith('.c') && !f.endsWith('.mod.c')).sort();
  const composites = compositeModules(dir);
  const dropped: { module: string; objects: string[] }[] = [];
  const take = (file: string, result: SplitResult, manifestBase: string, object: string): void => {
    plan.diagnostics.push(...result.diagnostics);
    plan.sources.push({ file, kind: result.kind, modules: result.manifest?.parts.map((p) => p.module) ?? [] });
    if (result.kind !== 'split' || !result.manifest) return;
    const main = result.manifest.parts[0]!;
    for (const f of main.files ?? [main.file]) plan.inPlace.add(f);
    const manifestName = convertedManifestName(manifestBase);
    for (const [name, bytes] of splitOutputBytes(result.files, result.manifest, manifestName, MANIFEST_FILE)) {
      // A wrapper (test_klp_state3.c) carries the split of the file it includes: same bytes.
      if (!readIfExists(join(dir, name))?.equals(bytes)) plan.files.set(name, bytes);
    }
    // Every per-object module, also one this configuration leaves out: its content is under the
    // object's condition, so the kernel tree's Makefile serves every configuration.
    const perObject = modulesOfParts(result.manifest.parts).slice(1);
    livepatches.push({
      object,
      perObject: perObject.map((m) => m.object),
      composites: Object.fromEntries(perObject.filter((m) => m.composite).map((m) => [m.object, m.composite!])),
    });
  };
  for (const file of sources) {
    const composite = [...composites].find(([, files]) => files.includes(file));
    if (composite) {
      // A module built from several files is converted as one unit, when its first file comes up.
      const [module, files] = composite;
      if (files[0] !== file || !files.every((f) => existsSync(join(dir, f)))) continue;
      const result = splitModule(module, files.map((f) => join(dir, f)), { includeDirs: opts.includeDirs, preprocess: opts.preprocess, inPlace: true, facts: opts.facts });
      take(file, result, module, `${module}.o`);
      const main = result.manifest?.parts[0];
      const unused = main?.files ? files.filter((f) => !main.files!.includes(f)) : [];
      if (unused.length) {
        // All the code of these went to per-object modules: the main module stops linking them.
        dropped.push({ module, objects: unused.map((f) => f.replace(/\.c$/, '.o')) });
        for (const f of unused) plan.diagnostics.push({ file: f, line: 0, col: 0, severity: 'note', code: 'composite-file-unused', message: `all its code moved to the per-object modules of '${kbuildModuleName(module)}'; '${module}' no longer links it, so it can be deleted` });
      }
      continue;
    }
    // In place: the livepatch's own headers are where they were, nothing to copy.
    take(file, splitFile(join(dir, file), { displayName: file, includeDirs: opts.includeDirs, preprocess: opts.preprocess, facts: opts.facts, copyLocalHeaders: false }), file.replace(/\.c$/, ''), file.replace(/\.c$/, '.o'));
  }
  const makefile = ['Kbuild', 'Makefile'].find((f) => existsSync(join(dir, f)));
  const withObjects = livepatches.filter((l) => l.perObject.length);
  if (makefile && withObjects.length) {
    const edit = convertMakefile(readSourceText(join(dir, makefile), { what: makefile }), withObjects, 'klp-split convert');
    let text = edit.text;
    for (const d of dropped) text = dropFromComposite(text, d.module, d.objects).text;
    if (edit.added.length || text !== edit.text) plan.files.set(makefile, outputBytes(makefile, text));
    plan.inPlace.add(makefile);
    for (const missing of edit.missing) {
      plan.diagnostics.push({ file: makefile, line: 0, col: 0, severity: 'warning', message: `'${missing}' is not built by any obj- line; add its per-object modules by hand`, code: 'makefile-missing-livepatch' });
    }
  } else if (!makefile && withObjects.length) {
    plan.diagnostics.push({ file: dir, line: 0, col: 0, severity: 'warning', message: 'no Makefile or Kbuild here; the per-object modules are not added to any build', code: 'no-makefile' });
  }
  return plan;
}

function readIfExists(path: string): Buffer | undefined {
  return existsSync(path) ? readFileSync(path) : undefined;
}

/**
 * The generated files every converted livepatch of `dir` recorded in its
 * manifest (`<patch>.klp-split.json`), with their hashes; each name confined
 * to `dir` before anything is written.
 */
export function previousConversion(dir: string): Map<string, string | undefined> {
  const previous = new Map<string, string | undefined>();
  for (const name of readdirSync(dir).filter((f) => f.endsWith(`.${MANIFEST_FILE}`)).sort()) {
    for (const [file, hash] of previousGenerated(dir, name)) {
      if (!previous.has(file) || hash !== undefined) previous.set(file, hash);
    }
  }
  return previous;
}
