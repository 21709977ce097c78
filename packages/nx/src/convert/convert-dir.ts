import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSourceText } from '@klp-split/core';
import { convertMakefile, type ConvertedLivepatch } from '@klp-split/kbuild-gen';
import { compositeModules, MANIFEST_FILE, outputBytes, previousGenerated, splitFile, splitLivepatch, splitOutputBytes, type Diagnostic, type SplitResult } from '@klp-split/splitter';

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
export function convertedManifestName(fileBase: string): string {
  return `${fileBase}.${MANIFEST_FILE}`;
}

export function planConversion(dir: string, opts: { includeDirs?: string[]; preprocess?: (path: string, source: string) => string | undefined } = {}): ConvertPlan {
  const plan: ConvertPlan = { dir, files: new Map(), inPlace: new Set(), sources: [], diagnostics: [] };
  const livepatches: ConvertedLivepatch[] = [];
  const sources = readdirSync(dir).filter((f) => f.endsWith('.c') && !f.endsWith('.mod.c')).sort();
  const composites = compositeModules(dir);
  for (const file of sources) {
    const composite = [...composites].find(([, files]) => files.includes(file));
    if (composite) {
      // The split of a module built from several files is written as one file per part, which
      // its Makefile's `<module>-y` line would not build in place: split it into another directory.
      if (composite[1][0] === file && splitLivepatch([join(dir, file)], { includeDirs: opts.includeDirs }).kind === 'split') {
        plan.diagnostics.push({ file, line: 0, col: 0, severity: 'error', code: 'composite-not-converted', message: `'${composite[0]}' is built from ${composite[1].join(', ')}; convert does not rewrite a composite livepatch in place: run 'klp-split split ${file} --out <dir>'` });
        plan.sources.push({ file, kind: 'invalid', modules: [] });
      }
      continue;
    }
    const result = splitFile(join(dir, file), { displayName: file, includeDirs: opts.includeDirs, preprocess: opts.preprocess });
    plan.diagnostics.push(...result.diagnostics);
    plan.sources.push({ file, kind: result.kind, modules: result.manifest?.parts.map((p) => p.module) ?? [] });
    if (result.kind !== 'split' || !result.manifest) continue;
    plan.inPlace.add(file);
    const manifestName = convertedManifestName(file.replace(/\.c$/, ''));
    for (const [name, bytes] of splitOutputBytes(result.files, result.manifest, manifestName, MANIFEST_FILE)) {
      // A wrapper (test_klp_state3.c) carries the split of the file it includes: same bytes.
      if (!readIfExists(join(dir, name))?.equals(bytes)) plan.files.set(name, bytes);
    }
    livepatches.push({
      object: file.replace(/\.c$/, '.o'),
      perObject: result.manifest.parts.slice(1).map((p) => p.file.replace(/\.c$/, '.o')),
    });
  }
  const makefile = ['Kbuild', 'Makefile'].find((f) => existsSync(join(dir, f)));
  const withObjects = livepatches.filter((l) => l.perObject.length);
  if (makefile && withObjects.length) {
    const edit = convertMakefile(readSourceText(join(dir, makefile), { what: makefile }), withObjects, 'klp-split convert');
    if (edit.added.length) plan.files.set(makefile, outputBytes(makefile, edit.text));
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
