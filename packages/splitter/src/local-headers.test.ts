import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { localHeaders, sharedHeaderName } from './local-headers.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'klp-split-headers-'));
  dirs.push(root);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(root, name, '..'), { recursive: true });
    writeFileSync(join(root, name), text, 'latin1');
  }
  return root;
}

describe("a livepatch's own headers", () => {
  it('are found through each other, by their names relative to the source, byte for byte', () => {
    const dir = tree({ 'src/fix.h': '#include "inc/a.h"\n/* caf\xe9 */\n', 'src/inc/a.h': '#include "../fix.h"\n#include "b.h"\n', 'src/inc/b.h': '#define B 1\n' });
    const r = localHeaders(join(dir, 'src'), [{ file: 'fix.c', text: '/* #include "commented.h" */\n#include <linux/module.h>\n#include "fix.h"\n' }]);
    expect(r.diagnostics).toEqual([]);
    expect([...r.files.keys()]).toEqual(['fix.h', 'inc/a.h', 'inc/b.h']);
    expect(r.files.get('fix.h')).toBe('#include "inc/a.h"\n/* caf\xe9 */\n');
  });

  it('may not leave the source directory, and one that is not there is not copied, with a warning', () => {
    const dir = tree({ 'common.h': '', 'src/x': '' });
    const r = localHeaders(join(dir, 'src'), [{ file: 'fix.c', text: '#include "../common.h"\n#include "elsewhere.h"\n' }]);
    expect(r.files.size).toBe(0);
    expect(r.diagnostics.map((d) => [d.severity, d.code, d.line, d.col])).toEqual([
      ['error', 'path-escape', 1, 11],
      ['warning', 'local-header-not-found', 2, 11],
    ]);
  });

  it("found only in a directory the livepatch's Kbuild adds with -I are left to the compiler, neither copied nor refused", () => {
    const dir = tree({ 'kernel/fs/proc/base.c': '', 'kernel/lib/kstrtox.h': '#define K 1\n', 'lp/x': '' });
    const r = localHeaders(join(dir, 'lp'), [{ file: 'fix.c', text: '#include "../../lib/kstrtox.h"\n#include "../escape.h"\n' }], [join(dir, 'kernel/fs/proc')]);
    expect(r.files.size).toBe(0);
    // The -I directory does not widen what is copied: a name found nowhere still leaves the directory.
    expect(r.diagnostics.map((d) => [d.severity, d.code, d.line])).toEqual([['error', 'path-escape', 2]]);
  });

  it("give the split's shared header another name when one is named like it", () => {
    const dir = tree({ 'fix.h': '', 'fix-shared.h': '' });
    expect(sharedHeaderName(dir, 'other', [])).toBe('other.h');
    expect(sharedHeaderName(dir, 'other', ['other.h'])).toBe('other-shared.h');
    expect(sharedHeaderName(dir, 'fix', [])).toBe('fix-shared-2.h');
  });
});
