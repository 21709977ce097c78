/**
 * Module naming rules of the split design (spec §2): the one definition of
 * the per-object module name `<patch>__<obj>` that the splitter writes, the
 * build names and the simulator requests. The kernel compares names with
 * strcmp against the module's name, which kbuild derives from the file name
 * with '-' turned into '_'.
 */

/** The kernel's MODULE_NAME_LEN on 64-bit (include/linux/module.h), counting the terminating NUL. */
export const MODULE_NAME_LEN = 56;
/** The longest module name the kernel accepts. */
export const MODULE_NAME_MAX = MODULE_NAME_LEN - 1;

const VALID_MODULE_NAME = /^[A-Za-z0-9_-]+$/;

export function kbuildModuleName(name: string): string {
  return name.replace(/-/g, '_');
}

/** `<patch>__<object>`: the module that carries the patch's fix for one object. */
export function perObjectModuleName(patch: string, object: string): string {
  return `${kbuildModuleName(patch)}__${kbuildModuleName(object)}`;
}

/** The per-object file's base name in the main file's own dash style. */
export function perObjectFileBase(patchFileBase: string, object: string): string {
  const objectBase = patchFileBase.includes('-') ? object.replace(/_/g, '-') : object;
  return `${patchFileBase}__${objectBase}`;
}

type NameProblem = { code: 'path-escape' | 'invalid-module-name' | 'module-name-too-long' | 'object-named-vmlinux'; message: string };

/** Why `name` cannot be used as the object name of a per-object module, if it cannot. */
export function objectNameProblem(patch: string, name: string): NameProblem | undefined {
  if (name.includes('/') || name.includes('\\') || name === '.' || name === '..') {
    return { code: 'path-escape', message: `object name '${name}' would escape the output directory` };
  }
  if (!VALID_MODULE_NAME.test(name)) {
    return { code: 'invalid-module-name', message: `object name '${name}' is not a valid module name (letters, digits, '_' and '-' only)` };
  }
  // vmlinux's object is the one without a name; a module object named vmlinux the split kernel refuses.
  if (kbuildModuleName(name) === 'vmlinux') {
    return { code: 'object-named-vmlinux', message: `object name 'vmlinux' names a module, and vmlinux is no module: leave .name out (NULL) for vmlinux's object; the split kernel would refuse it ("patch '${kbuildModuleName(patch)}': invalid object name 'vmlinux' in obj_names")` };
  }
  const module = perObjectModuleName(patch, name);
  if (module.length > MODULE_NAME_MAX) {
    return {
      code: 'module-name-too-long',
      message: `per-object module name '${module}' is ${module.length} characters; the kernel allows ${MODULE_NAME_MAX}`,
    };
  }
  return undefined;
}

export function patchNameProblem(name: string): NameProblem | undefined {
  if (!VALID_MODULE_NAME.test(name)) {
    return { code: 'invalid-module-name', message: `patch module name '${name}' is not a valid module name` };
  }
  if (name.length > MODULE_NAME_MAX) {
    return { code: 'module-name-too-long', message: `patch module name '${name}' is longer than ${MODULE_NAME_MAX} characters` };
  }
  return undefined;
}
