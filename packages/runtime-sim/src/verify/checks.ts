import { perObjectModuleName, type ManifestPart, type SplitManifest } from '@klp-split/core';
import type { Diagnostic } from '@klp-split/core';
import type { ModuleImage } from '../image/module-image.js';
import type { KlpLayout } from '../klp/layout.js';
import { findObjects, findPatch, type KlpObjectImage } from '../klp/structures.js';
import { klpRelocRuleProblems } from './klp-reloc-rules.js';
import { patchNameProblem } from '../kernel/livepatch/split.js';
import { loaderRefusals } from './loader-refusals.js';
import { placementRuleProblems } from './placement-rule.js';
import { locateInSource } from './locate.js';

export interface PartImage {
  part: ManifestPart;
  image: ModuleImage;
}

/**
 * Static checks of the built modules against the split design and the
 * manifest: everything is read from the ELF files (names, klp structures),
 * the C sources only serve to point at a line.
 */
export class SplitChecks {
  readonly diagnostics: Diagnostic[] = [];
  /** `<code>:<module>` of the loader's refusals found here, which the simulated load then reports again. */
  readonly refused = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly manifest: SplitManifest,
    private readonly layout: KlpLayout,
  ) {}

  private report(part: ManifestPart, code: string, message: string, needle?: string, severity: Diagnostic['severity'] = 'error'): void {
    // A part built from several files: the finding is in the first of them that has the needle.
    const files = [part.file, ...(part.files ?? []).filter((f) => f !== part.file)];
    const found = needle ? files.map((file) => ({ file, pos: locateInSource(this.dir, file, needle) })).find((f) => f.pos) : undefined;
    this.diagnostics.push({ file: found?.file ?? part.file, line: found?.pos?.line ?? 0, col: found?.pos?.col ?? 0, severity, message, code });
  }

  run(parts: PartImage[], targets: ModuleImage[]): void {
    const main = parts.find((p) => p.part.object === 'vmlinux');
    const objNames = main ? this.checkMain(main, targets) : [];
    for (const p of parts) this.checkCommon(p);
    for (const p of parts) if (p !== main) this.checkPerObject(p, objNames, targets);
    for (const p of parts) if (p !== main) this.checkPartDependencies(p, parts.filter((q) => q !== main && q !== p), targets);
    for (const name of objNames) {
      const module = perObjectModuleName(this.manifest.patch, name);
      if (!parts.some((p) => p.image.name === module)) {
        this.report(main!.part, 'per-object-module-missing', `obj_names lists '${name}' but no module '${module}' was built; loading '${name}' would fail while the patch is loaded`, `"${name}"`);
      }
    }
  }

  private checkCommon({ part, image }: PartImage): void {
    if (!image.isLivepatch) this.report(part, 'missing-livepatch-modinfo', `module '${image.name}' lacks MODULE_INFO(livepatch, "Y")`, 'MODULE_LICENSE');
    if (image.name !== part.module) this.report(part, 'module-name-mismatch', `module is named '${image.name}', the manifest says '${part.module}'`);
    for (const p of klpRelocRuleProblems(image.elf)) this.report(part, p.code, p.message, p.symbol);
    for (const r of loaderRefusals(image)) {
      this.refused.add(`${r.code}:${image.name}`);
      // The placement rule below says the same with where the code belongs.
      if (r.code === 'klp-rela-not-carried') continue;
      this.report(part, r.code, `the split kernel refuses to load '${image.name}': ${r.lines.map((l) => `"${l}"`).join(', ')}`, r.needle);
    }
    for (const p of placementRuleProblems(image.elf, image.name, part.object, this.manifest.patch)) this.report(part, p.code, p.message, p.symbol);
  }

  private checkMain({ part, image }: PartImage, targets: ModuleImage[]): string[] {
    const patch = findPatch(image, this.layout);
    if (!patch?.obj) {
      this.report(part, 'no-klp-patch', `main module '${image.name}' has no struct klp_patch with a vmlinux object (split API)`);
      return [];
    }
    if (patch.obj.patchName !== image.name) {
      this.report(part, 'patch-name-mismatch', `vmlinux object's patch_name is '${patch.obj.patchName}', the module is '${image.name}'`, '.patch_name');
    }
    // The names klp_enable_patch() refuses (the split kernel's klp_check_patch_names()), in its words.
    const names = patchNameProblem(patch.obj.patchName ?? '', image.name, patch.objNames);
    if (names && patch.obj.patchName === image.name) this.report(part, 'obj-names-refused', `klp_enable_patch() would refuse the patch: "livepatch: ${names}"`, 'obj_names');
    if (patch.obj.name !== null) this.report(part, 'vmlinux-object-named', `klp_patch.obj must be vmlinux (name NULL), it is '${patch.obj.name}'`);
    if (!sameList(patch.objNames, this.manifest.objNames)) {
      this.report(part, 'manifest-mismatch', `obj_names in the module is [${patch.objNames.join(', ')}], the manifest says [${this.manifest.objNames.join(', ')}]`, 'obj_names');
    }
    this.compareObject(part, patch.obj);
    for (const t of targets) {
      const used = image.undefinedSymbols.filter((s) => t.exports.has(s));
      if (used.length) {
        this.report(part, 'main-references-module', `main module uses ${used.map((s) => `'${s}'`).join(', ')} exported by module '${t.name}': it could not load without that module`, used[0]);
      }
    }
    return patch.objNames;
  }

  private checkPerObject({ part, image }: PartImage, objNames: string[], targets: ModuleImage[]): void {
    const objs = findObjects(image, this.layout);
    if (objs.length !== 1) {
      this.report(part, 'no-klp-object', `per-object module '${image.name}' must define exactly one struct klp_object, found ${objs.length}`);
      return;
    }
    const obj = objs[0]!;
    const nameNeedle = obj.name ? `"${obj.name}"` : '.name';
    if (obj.patchName !== this.manifest.patch) {
      this.report(part, 'patch-name-mismatch', `klp_object.patch_name is '${obj.patchName}', the patch is '${this.manifest.patch}'`, `"${obj.patchName}"`);
    }
    if (!obj.name || !objNames.includes(obj.name)) {
      this.report(part, 'object-not-in-obj-names', `object '${obj.name}' of module '${image.name}' is not in obj_names of patch '${this.manifest.patch}' [${objNames.join(', ')}]: klp_add_object() would fail with -EINVAL`, nameNeedle);
    }
    const expected = perObjectModuleName(this.manifest.patch, String(obj.name));
    if (image.name !== expected) {
      this.report(part, 'per-object-module-name', `module '${image.name}' carries object '${obj.name}'; the kernel requests '${expected}' for it`, nameNeedle);
    }
    if (!obj.modIsThisModule) this.report(part, 'object-mod-not-this-module', `klp_object.mod must be THIS_MODULE`, '.mod');
    if (obj.name !== part.object) {
      this.report(part, 'manifest-mismatch', `object is '${obj.name}' in the module, '${part.object}' in the manifest`, nameNeedle);
    }
    this.compareObject(part, obj);
    const target = targets.find((t) => t.name === obj.name);
    if (target) this.checkStaticKeys({ part, image }, target);
    const fromTarget = target ? image.undefinedSymbols.filter((s) => target.exports.has(s)) : [];
    if (fromTarget.length) {
      this.report(part, 'target-export-deadlock', `uses ${fromTarget.map((s) => `'${s}'`).join(', ')} exported by its own target '${obj.name}': modprobe would load the target again while it is COMING (deadlock); reference them through livepatch relocations`, fromTarget[0]);
    }
  }

  /**
   * Race (D): a per-object module may use another one's exports only when
   * its target uses that one's target: otherwise loading the targets in
   * their own order requests the per-object modules in the wrong one.
   */
  private checkPartDependencies({ part, image }: PartImage, others: PartImage[], targets: ModuleImage[]): void {
    for (const other of others) {
      const used = image.undefinedSymbols.filter((s) => other.image.exports.has(s));
      if (!used.length) continue;
      const target = targets.find((t) => t.name === part.object);
      const otherTarget = targets.find((t) => t.name === other.part.object);
      const mirrored = !!target && !!otherTarget && target.undefinedSymbols.some((s) => otherTarget.exports.has(s));
      if (!mirrored) {
        this.report(
          part,
          'per-object-dependency',
          `uses ${used.map((s) => `'${s}'`).join(', ')} of '${other.image.name}', but its target '${part.object}' does not depend on '${other.part.object}': the per-object modules' dependencies must mirror their targets'`,
          used[0],
        );
      }
    }
  }

  /**
   * A static key of the target referenced from the per-object module's
   * __jump_table: its jump labels would be set up before the target's own
   * jump-label setup, which crashes in practice (spec §4).
   */
  private checkStaticKeys({ part, image }: PartImage, target: ModuleImage): void {
    const keys = new Set<string>();
    for (const rs of image.elf.relocations) {
      if (rs.target.name !== '__jump_table') continue;
      for (const r of rs.relocs) {
        const sym = image.elf.symbols[r.symIndex];
        if (!sym?.name) continue;
        // Livepatch relocations from __jump_table are klpRelocRuleProblems()'s (checked for every part).
        if (image.undefinedSymbols.includes(sym.name) && target.exports.has(sym.name)) keys.add(sym.name);
      }
    }
    for (const key of keys) {
      this.report(part, 'target-static-key', `static key '${key}' of target '${target.name}' is used from the per-object module's jump labels, which are set up before the target's own jump-label setup (a crash in practice)`, key);
    }
  }

  private compareObject(part: ManifestPart, obj: KlpObjectImage): void {
    const elfFuncs = obj.funcs.map((f) => `${f.oldName}->${f.newFunc}@${f.sympos}`);
    const manFuncs = part.funcs.map((f) => `${f.oldName}->${f.newFunc}@${f.sympos}`);
    if (!sameList(elfFuncs, manFuncs)) {
      this.report(part, 'manifest-mismatch', `klp_func entries in the module are [${elfFuncs.join(', ')}], the manifest says [${manFuncs.join(', ')}]`, '.funcs');
    }
    const elfCbs = obj.callbacks.map((c) => `${c.kind}=${c.func}`);
    const manCbs = part.callbacks.map((c) => `${c.kind}=${c.func}`);
    if (!sameList(elfCbs, manCbs)) {
      this.report(part, 'manifest-mismatch', `callbacks in the module are [${elfCbs.join(', ')}], the manifest says [${manCbs.join(', ')}]`, '.callbacks');
    }
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
