import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertMakefile, type ConvertedLivepatch } from '@klp-split/kbuild-gen';
import { compositeModules, MANIFEST_FILE, splitFile, splitLivepatch, type Diagnostic, type SplitResult } from '@klp-split/splitter';

/**
 * The one-shot converter: rewrites every livepatch of a kernel source
 * directory into split form in place (main file replaced, per-object files
 * and shared headers added, one manifest per patch) and adds the per-object
 * modules to the directory's Makefile or Kbuild next to their livepatch.
 */
export interface ConvertPlan {
  dir: string;
  /** File name to new content, for every file that changes or appears. */
  files: Map<string, string>;
  /** Per source: what happened to it. */
  sources: { file: string; kind: SplitResult['kind']; modules: string[] }[];
  diagnostics: Diagnostic[];
}

/** Manifest of one converted livepatch in a directory that holds several. */
export function convertedManifestName(fileBase: string): string {
  return `${fileBase}.${MANIFEST_FILE}`;
}

export function planConversion(dir: string, opts: { includeDirs?: string[]; preprocess?: (path: string, source: string) => string | undefined } = {}): ConvertPlan {
  const plan: ConvertPlan = { dir, files: new Map(), sources: [], diagnostics: [] };
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
    for (const [name, text] of result.files) {
      if (name === MANIFEST_FILE) {
        plan.files.set(convertedManifestName(file.replace(/\.c$/, '')), text);
        continue;
      }
      // A wrapper (test_klp_state3.c) carries the split of the file it includes: same text.
      if (readIfExists(join(dir, name)) !== text) plan.files.set(name, text);
    }
    livepatches.push({
      object: file.replace(/\.c$/, '.o'),
      perObject: result.manifest.parts.slice(1).map((p) => p.file.replace(/\.c$/, '.o')),
    });
  }
  const makefile = ['Kbuild', 'Makefile'].find((f) => existsSync(join(dir, f)));
  const withObjects = livepatches.filter((l) => l.perObject.length);
  if (makefile && withObjects.length) {
    const edit = convertMakefile(readFileSync(join(dir, makefile), 'utf8'), withObjects, 'klp-split convert');
    if (edit.added.length) plan.files.set(makefile, edit.text);
    for (const missing of edit.missing) {
      plan.diagnostics.push({ file: makefile, line: 0, col: 0, severity: 'warning', message: `'${missing}' is not built by any obj- line; add its per-object modules by hand`, code: 'makefile-missing-livepatch' });
    }
  } else if (!makefile && withObjects.length) {
    plan.diagnostics.push({ file: dir, line: 0, col: 0, severity: 'warning', message: 'no Makefile or Kbuild here; the per-object modules are not added to any build', code: 'no-makefile' });
  }
  return plan;
}

function readIfExists(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}
