import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertMakefile, type ConvertedLivepatch, type MakefileEdit } from './makefile-convert.js';

const BY = 'klp-split test';

/** Drop the added lines again: must give back the input byte for byte. */
function withoutAdded(edit: MakefileEdit): string {
  const drop = new Set(edit.added.map((a) => a.line));
  return edit.text
    .split('\n')
    .filter((_, i) => !drop.has(i + 1))
    .join('\n');
}

/** Every reported line number points at the reported text. */
function expectAddedConsistent(edit: MakefileEdit): void {
  const lines = edit.text.split('\n');
  for (const a of edit.added) expect(lines[a.line - 1]).toBe(a.text);
}

function convert(text: string, livepatches: ConvertedLivepatch[]): MakefileEdit {
  const edit = convertMakefile(text, livepatches, BY);
  expectAddedConsistent(edit);
  expect(withoutAdded(edit)).toBe(text);
  return edit;
}

// Shape of samples/livepatch/Makefile: one object per line.
const SAMPLES = `# SPDX-License-Identifier: GPL-2.0-only
obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-sample.o
obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-shadow-mod.o
obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-shadow-fix1.o
obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-shadow-fix2.o
obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-callbacks-demo.o
obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-callbacks-mod.o
obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-callbacks-busymod.o
`;

// Shape of lib/livepatch/Makefile in 6.1: one statement, tab-indented continuations.
const LIB = `# SPDX-License-Identifier: GPL-2.0
#
# Makefile for livepatch test code.

obj-$(CONFIG_TEST_LIVEPATCH) += test_klp_atomic_replace.o \\
\t\t\t\ttest_klp_callbacks_demo.o \\
\t\t\t\ttest_klp_callbacks_demo2.o \\
\t\t\t\ttest_klp_callbacks_busy.o \\
\t\t\t\ttest_klp_callbacks_mod.o \\
\t\t\t\ttest_klp_livepatch.o \\
\t\t\t\ttest_klp_shadow_vars.o \\
\t\t\t\ttest_klp_state.o \\
\t\t\t\ttest_klp_state2.o \\
\t\t\t\ttest_klp_state3.o
`;

const FIX1: ConvertedLivepatch = {
  object: 'livepatch-shadow-fix1.o',
  perObject: ['livepatch-shadow-fix1__livepatch-shadow-mod.o'],
};

describe('convertMakefile: samples/livepatch shape (one object per line)', () => {
  it('inserts the per-object module right after the livepatch line, same variable, +=', () => {
    const edit = convert(SAMPLES, [FIX1]);
    expect(edit.added).toEqual([
      {
        line: 5,
        text: 'obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-shadow-fix1__livepatch-shadow-mod.o',
      },
    ]);
    expect(edit.missing).toEqual([]);
    expect(edit.text.split('\n').slice(3, 6)).toEqual([
      'obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-shadow-fix1.o',
      'obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-shadow-fix1__livepatch-shadow-mod.o',
      'obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-shadow-fix2.o',
    ]);
  });

  it('handles several livepatches and several per-object modules each, line numbers in the new text', () => {
    const edit = convert(SAMPLES, [
      { object: 'livepatch-callbacks-demo.o', perObject: ['livepatch-callbacks-demo__livepatch-callbacks-mod.o', 'livepatch-callbacks-demo__livepatch-callbacks-busymod.o'] },
      FIX1,
      { object: 'livepatch-shadow-fix2.o', perObject: ['livepatch-shadow-fix2__livepatch-shadow-mod.o'] },
    ]);
    expect(edit.added.map((a) => [a.line, a.text.split(' += ')[1]])).toEqual([
      [5, 'livepatch-shadow-fix1__livepatch-shadow-mod.o'],
      [7, 'livepatch-shadow-fix2__livepatch-shadow-mod.o'],
      [9, 'livepatch-callbacks-demo__livepatch-callbacks-mod.o'],
      [10, 'livepatch-callbacks-demo__livepatch-callbacks-busymod.o'],
    ]);
  });

  it('changes nothing for a livepatch with no per-object modules (vmlinux-only)', () => {
    const edit = convert(SAMPLES, [{ object: 'livepatch-sample.o', perObject: [] }]);
    expect(edit).toEqual({ text: SAMPLES, added: [], missing: [] });
  });
});

describe('convertMakefile: lib/livepatch shape (one multi-line statement)', () => {
  it('inserts after the last continuation line, never inside the statement', () => {
    const edit = convert(LIB, [
      { object: 'test_klp_livepatch.o', perObject: ['test_klp_livepatch__test_klp_callbacks_mod.o'] },
    ]);
    expect(edit.added).toEqual([
      { line: 15, text: 'obj-$(CONFIG_TEST_LIVEPATCH) += test_klp_livepatch__test_klp_callbacks_mod.o' },
    ]);
    expect(edit.text.endsWith('\t\t\t\ttest_klp_state3.o\nobj-$(CONFIG_TEST_LIVEPATCH) += test_klp_livepatch__test_klp_callbacks_mod.o\n')).toBe(true);
  });

  it('finds objects on the first line and on continuation lines; orders insertions as the statement lists them', () => {
    const edit = convert(LIB, [
      { object: 'test_klp_state3.o', perObject: ['test_klp_state3__x.o'] },
      { object: 'test_klp_atomic_replace.o', perObject: ['test_klp_atomic_replace__x.o'] },
    ]);
    expect(edit.added.map((a) => a.line)).toEqual([15, 16]);
    expect(edit.added.map((a) => a.text)).toEqual([
      'obj-$(CONFIG_TEST_LIVEPATCH) += test_klp_atomic_replace__x.o',
      'obj-$(CONFIG_TEST_LIVEPATCH) += test_klp_state3__x.o',
    ]);
  });

  it('does not treat a line ending in backslash-space as a continuation (make does not either)', () => {
    const text = 'obj-m += a.o \\ \nobj-m += b.o\n';
    const edit = convert(text, [{ object: 'a.o', perObject: ['a__x.o'] }]);
    expect(edit.added).toEqual([{ line: 2, text: 'obj-m += a__x.o' }]);
  });
});

describe('convertMakefile: assignment forms', () => {
  it.each([
    ['obj-m := x.o\n', 'obj-m += x__y.o'],
    ['obj-m = x.o\n', 'obj-m += x__y.o'],
    ['obj-m ?= x.o\n', 'obj-m += x__y.o'],
    ['obj-y += x.o\n', 'obj-y += x__y.o'],
    ['obj-$(CONFIG_FOO) += a.o x.o b.o\n', 'obj-$(CONFIG_FOO) += x__y.o'],
    ['obj-${CONFIG_FOO} += x.o\n', 'obj-${CONFIG_FOO} += x__y.o'],
    ['obj-m+=x.o\n', 'obj-m += x__y.o'],
    ['obj-m\t+=\tx.o\n', 'obj-m += x__y.o'],
    ['obj-m :=\tother.o\t x.o   \n', 'obj-m += x__y.o'],
  ])('%j adds %j on the next line', (text, line) => {
    const edit = convert(text, [{ object: 'x.o', perObject: ['x__y.o'] }]);
    expect(edit.added).toEqual([{ line: 2, text: line }]);
    expect(edit.text).toBe(`${text}${line}\n`);
  });

  it('keeps the indentation of an indented assignment (spaces or tab)', () => {
    const text = 'ifdef CONFIG_FOO\n  obj-m += x.o\nendif\nifdef CONFIG_BAR\n\tobj-y += x.o\nendif\n';
    const edit = convert(text, [{ object: 'x.o', perObject: ['x__y.o'] }]);
    expect(edit.added.map((a) => a.text)).toEqual(['  obj-m += x__y.o', '\tobj-y += x__y.o']);
  });

  it('matches whole object names only', () => {
    const text = 'obj-m += xx.o x.o.bak ax.o\n';
    const edit = convert(text, [{ object: 'x.o', perObject: ['x__y.o'] }]);
    expect(edit).toEqual({ text, added: [], missing: ['x.o'] });
  });
});

describe('convertMakefile: comments, blank lines and conditionals', () => {
  it('skips comments and blank lines around the assignment and keeps them', () => {
    const text = [
      '# SPDX-License-Identifier: GPL-2.0',
      '',
      '# the patched module',
      'obj-m += target.o',
      '',
      '# the livepatch: x.o',
      'obj-m += x.o # fixes target',
      '',
      '# trailing comment',
      '',
    ].join('\n');
    const edit = convert(text, [{ object: 'x.o', perObject: ['x__target.o'] }]);
    expect(edit.added).toEqual([{ line: 8, text: 'obj-m += x__target.o' }]);
  });

  it('ignores objects named only in comments, including a comment continued by a backslash', () => {
    const text = [
      '# obj-m += x.o',
      'obj-m += a.o # x.o is disabled \\',
      '\tx.o',
      '#obj-m += z.o \\',
      'obj-m += z.o',
      '',
    ].join('\n');
    const edit = convert(text, [
      { object: 'x.o', perObject: ['x__a.o'] },
      { object: 'z.o', perObject: ['z__a.o'] },
    ]);
    expect(edit).toEqual({ text, added: [], missing: ['x.o', 'z.o'] });
  });

  it('keeps the insertion inside an ifeq ... else ... endif block, in every branch that lists the object', () => {
    const text = [
      'ifeq ($(CONFIG_FOO),y)',
      'obj-y += x.o',
      'else',
      'obj-m += x.o \\',
      '        other.o',
      'endif',
      'obj-m += other2.o',
      '',
    ].join('\n');
    const edit = convert(text, [{ object: 'x.o', perObject: ['x__mod.o'] }]);
    expect(edit.text).toBe(
      [
        'ifeq ($(CONFIG_FOO),y)',
        'obj-y += x.o',
        'obj-y += x__mod.o',
        'else',
        'obj-m += x.o \\',
        '        other.o',
        'obj-m += x__mod.o',
        'endif',
        'obj-m += other2.o',
        '',
      ].join('\n'),
    );
    expect(edit.added.map((a) => a.line)).toEqual([3, 7]);
  });
});

describe('convertMakefile: composites, missing objects', () => {
  it('leaves composite definitions alone and reports an object only they list as missing', () => {
    const text = [
      'obj-m += x.o',
      'x-y := main.o helper.o',
      'x-objs := main.o helper.o',
      'helper-y := h.o',
      'obj-foo-y := helper.o',
      '',
    ].join('\n');
    const edit = convert(text, [
      { object: 'x.o', perObject: ['x__t.o'] },
      { object: 'helper.o', perObject: ['helper__t.o'] },
    ]);
    expect(edit.added).toEqual([{ line: 2, text: 'obj-m += x__t.o' }]);
    expect(edit.missing).toEqual(['helper.o']);
  });

  it('reports a livepatch absent from the file as missing and changes nothing for it', () => {
    const edit = convert(SAMPLES, [{ object: 'nope.o', perObject: ['nope__a.o'] }, FIX1]);
    expect(edit.missing).toEqual(['nope.o']);
    expect(edit.added).toHaveLength(1);
  });

  it('reports a livepatch given twice once', () => {
    const edit = convert('', [
      { object: 'nope.o', perObject: ['nope__a.o'] },
      { object: 'nope.o', perObject: ['nope__b.o'] },
    ]);
    expect(edit).toEqual({ text: '', added: [], missing: ['nope.o'] });
  });
});

describe('convertMakefile: idempotence and the final newline', () => {
  it('converting twice changes nothing the second time', () => {
    const livepatches = [
      FIX1,
      { object: 'test_klp_livepatch.o', perObject: ['test_klp_livepatch__a.o', 'test_klp_livepatch__b.o'] },
    ];
    for (const original of [SAMPLES, LIB]) {
      const once = convert(original, livepatches);
      expect(once.added.length).toBeGreaterThan(0);
      const twice = convert(once.text, livepatches);
      expect(twice.text).toBe(once.text);
      expect(twice.added).toEqual([]);
      expect(twice.missing).toEqual(once.missing);
    }
  });

  it('does not add a per-object module already listed elsewhere, in any obj- assignment', () => {
    const text = 'obj-m += x__a.o\nobj-m += x.o\nobj-$(CONFIG_B) += q.o \\\n\tx__b.o\n';
    const edit = convert(text, [{ object: 'x.o', perObject: ['x__a.o', 'x__b.o', 'x__c.o'] }]);
    expect(edit.added).toEqual([{ line: 3, text: 'obj-m += x__c.o' }]);
  });

  it('adds a per-object module once even if two livepatch entries name it', () => {
    const text = 'obj-m += x.o\n';
    const edit = convert(text, [
      { object: 'x.o', perObject: ['x__a.o'] },
      { object: 'x.o', perObject: ['x__a.o'] },
    ]);
    expect(edit.text).toBe('obj-m += x.o\nobj-m += x__a.o\n');
  });

  it('keeps a missing final newline missing, and a present one last', () => {
    const lp = [{ object: 'x.o', perObject: ['x__a.o'] }];
    expect(convert('obj-m += x.o', lp).text).toBe('obj-m += x.o\nobj-m += x__a.o');
    expect(convert('obj-m += x.o\n', lp).text).toBe('obj-m += x.o\nobj-m += x__a.o\n');
    expect(convert('obj-m += x.o\n\n', lp).text).toBe('obj-m += x.o\nobj-m += x__a.o\n\n');
  });

  it('keeps the added line out of a statement ending the file with a dangling continuation', () => {
    const lp = [{ object: 'x.o', perObject: ['x__a.o'] }];
    const edit = convert('obj-m += x.o \\\n', lp);
    // The continuation swallows the empty line after the final newline, so
    // the added line comes after it (and the text ends without a newline).
    expect(edit.text).toBe('obj-m += x.o \\\n\nobj-m += x__a.o');
  });

  it('keeps the added line out of a last line ending in a backslash with no final newline', () => {
    const lp = [{ object: 'x.o', perObject: ['x__a.o'] }];
    // Before: 'obj-m += x.o \\\nobj-m += x__a.o', which make reads as one statement listing 'obj-m' and '+='.
    expect(convert('obj-m += x.o \\', lp).text).toBe('obj-m += x.o \\\n\nobj-m += x__a.o');
  });
});

describe('convertMakefile: real 6.1 Makefiles', () => {
  const tree = join(homedir(), '.cache', 'klp-split', 'linux-source-6.1');
  const absent = `kernel source ${tree} is not on this machine`;

  it('samples/livepatch/Makefile gets exactly the expected lines', (ctx) => {
    const file = join(tree, 'samples/livepatch/Makefile');
    ctx.skip(!existsSync(file), absent);
    const original = readFileSync(file, 'utf8');
    const edit = convert(original, [
      FIX1,
      { object: 'livepatch-shadow-fix2.o', perObject: ['livepatch-shadow-fix2__livepatch-shadow-mod.o'] },
      { object: 'livepatch-callbacks-demo.o', perObject: ['livepatch-callbacks-demo__livepatch-callbacks-mod.o'] },
    ]);
    expect(edit.missing).toEqual([]);
    expect(edit.added.map((a) => a.text)).toEqual([
      'obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-shadow-fix1__livepatch-shadow-mod.o',
      'obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-shadow-fix2__livepatch-shadow-mod.o',
      'obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-callbacks-demo__livepatch-callbacks-mod.o',
    ]);
    // Each added line follows its livepatch's own line.
    const lines = edit.text.split('\n');
    expect(edit.added.map((a) => lines[a.line - 2])).toEqual([
      'obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-shadow-fix1.o',
      'obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-shadow-fix2.o',
      'obj-$(CONFIG_SAMPLE_LIVEPATCH) += livepatch-callbacks-demo.o',
    ]);
    expect(convert(edit.text, [FIX1]).text).toBe(edit.text);
  });

  it('lib/livepatch/Makefile gets exactly the expected lines after the whole statement', (ctx) => {
    const file = join(tree, 'lib/livepatch/Makefile');
    ctx.skip(!existsSync(file), absent);
    const original = readFileSync(file, 'utf8');
    const lastLine = original.trimEnd().split('\n').length;
    const edit = convert(original, [
      { object: 'test_klp_livepatch.o', perObject: ['test_klp_livepatch__test_klp_callbacks_mod.o'] },
      { object: 'test_klp_callbacks_demo.o', perObject: ['test_klp_callbacks_demo__test_klp_callbacks_mod.o'] },
    ]);
    expect(edit.missing).toEqual([]);
    expect(edit.added).toEqual([
      { line: lastLine + 1, text: 'obj-$(CONFIG_TEST_LIVEPATCH) += test_klp_callbacks_demo__test_klp_callbacks_mod.o' },
      { line: lastLine + 2, text: 'obj-$(CONFIG_TEST_LIVEPATCH) += test_klp_livepatch__test_klp_callbacks_mod.o' },
    ]);
    expect(edit.text.startsWith(original)).toBe(true);
  });
});
