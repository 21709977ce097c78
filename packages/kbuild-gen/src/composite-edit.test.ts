import { describe, expect, it } from 'vitest';
import { dropFromComposite } from './composite-edit.js';

describe('dropFromComposite', () => {
  it('takes an object out of the module\'s -y line and keeps every other byte', () => {
    const text = '# SPDX-License-Identifier: GPL-2.0\nobj-m += fix.o\nfix-y := fix_main.o fix_funcs.o # the fix\nother-y := fix_funcs.o\n';
    const edit = dropFromComposite(text, 'fix', ['fix_funcs.o']);
    expect(edit.text).toBe('# SPDX-License-Identifier: GPL-2.0\nobj-m += fix.o\nfix-y := fix_main.o # the fix\nother-y := fix_funcs.o\n');
    expect(edit.removed).toEqual([{ line: 3, object: 'fix_funcs.o' }]);
  });

  it('follows backslash continuations and -objs, and leaves a longer name that merely starts alike', () => {
    const text = 'fix-objs := fix_main.o \\\n\tfix_funcs.o \\\n\tfix_funcs.o2\nfix-objs += fix_extra.o\n';
    const edit = dropFromComposite(text, 'fix', ['fix_funcs.o', 'fix_extra.o']);
    expect(edit.text).toBe('fix-objs := fix_main.o \\\n \\\n\tfix_funcs.o2\nfix-objs +=\n');
    expect(edit.removed.map((r) => r.line)).toEqual([2, 4]);
  });

  it('changes nothing when the module lists none of them', () => {
    const text = 'obj-m += fix.o\nfix-y := fix_main.o\n';
    expect(dropFromComposite(text, 'fix', ['fix_funcs.o'])).toEqual({ text, removed: [] });
  });
});
