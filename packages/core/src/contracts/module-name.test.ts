import { describe, expect, it } from 'vitest';
import { MODULE_NAME_MAX, objectNameProblem, perObjectFileBase, perObjectModuleName } from './module-name.js';

describe('module names (spec §2)', () => {
  it('joins patch and object with a double underscore in kbuild form', () => {
    expect(perObjectModuleName('livepatch-shadow-fix1', 'livepatch_shadow_mod')).toBe('livepatch_shadow_fix1__livepatch_shadow_mod');
  });

  it('names files in the main file dash style', () => {
    expect(perObjectFileBase('livepatch-shadow-fix1', 'livepatch_shadow_mod')).toBe('livepatch-shadow-fix1__livepatch-shadow-mod');
    expect(perObjectFileBase('test_klp_callbacks_demo', 'test_klp_callbacks_mod')).toBe('test_klp_callbacks_demo__test_klp_callbacks_mod');
  });

  it('refuses names that escape the output directory, are not module names, or are too long', () => {
    expect(objectNameProblem('p', '../evil')?.code).toBe('path-escape');
    expect(objectNameProblem('p', 'a/b')?.code).toBe('path-escape');
    expect(objectNameProblem('p', 'bad name')?.code).toBe('invalid-module-name');
    expect(objectNameProblem('p', 'x'.repeat(MODULE_NAME_MAX - 2))?.code).toBe('module-name-too-long');
    expect(objectNameProblem('p', 'x'.repeat(MODULE_NAME_MAX - 3))).toBeUndefined();
    // Issue 20: it made a manifest with two vmlinux parts, reported as "cannot read <file>".
    expect(objectNameProblem('p', 'vmlinux')).toEqual({ code: 'object-named-vmlinux', message: expect.stringContaining("leave .name out (NULL) for vmlinux's object") });
  });
});
