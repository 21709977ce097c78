import { describe, expect, it } from 'vitest';
import { applyFilePatch } from './apply.js';
import { parseUnifiedDiff } from './unified-diff.js';

const OLD = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'].join('\n') + '\n';

/** A format-patch mail: headers, a message with its own '---', a diffstat, two hunks. */
const MAIL = `From 1 Mon Sep 17 00:00:00 2001
Subject: [PATCH] x

A message line.
---
 f.c | 2 ++
--- not a file header, the next line is no +++

diff --git a/dir/f.c b/dir/f.c
index 1..2 100644
--- a/dir/f.c
+++ b/dir/f.c
@@ -2,3 +2,4 @@ ctx
 b
+B
 c
 d
@@ -9,3 +10,3 @@
 i
-j
+J
 k
-- 
2.39.5
`;

describe('unified diffs', () => {
  it('reads a git format-patch mail: only the file section, hunks by their counts', () => {
    const [fp, ...rest] = parseUnifiedDiff(MAIL, 'fix.patch');
    expect(rest).toEqual([]);
    expect(fp).toMatchObject({ oldPath: 'a/dir/f.c', newPath: 'b/dir/f.c', patchLine: 11 });
    expect(fp!.hunks.map((h) => [h.number, h.oldStart, h.oldCount, h.newStart, h.newCount, h.patchLine])).toEqual([
      [1, 2, 3, 2, 4, 13],
      [2, 9, 3, 10, 3, 18],
    ]);
  });

  it('applies hunks at their lines and maps every new line to the patch line that wrote it', () => {
    const [fp] = parseUnifiedDiff(MAIL, 'fix.patch');
    const r = applyFilePatch(fp!, OLD, 'dir/f.c');
    if ('failed' in r) throw new Error(JSON.stringify(r.failed));
    expect(r.text).toBe(['a', 'b', 'B', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'J', 'k', 'l'].join('\n') + '\n');
    expect(r.origin[2]).toEqual({ file: 'fix.patch', line: 15, added: true });
    expect(r.origin[10]).toEqual({ file: 'fix.patch', line: 21, added: true });
    expect(r.origin[0]).toBeUndefined();
  });

  it('finds a hunk whose lines moved (offset) and carries the offset to the next hunk', () => {
    const [fp] = parseUnifiedDiff(MAIL, 'fix.patch');
    const r = applyFilePatch(fp!, `x\ny\n${OLD}`, 'dir/f.c');
    if ('failed' in r) throw new Error(JSON.stringify(r.failed));
    expect(r.matchedAt).toEqual([4, 11]);
    expect(r.text.split('\n')[12]).toBe('J');
  });

  it('names the file and the hunk that does not apply, and says when the fix is already there', () => {
    const [fp] = parseUnifiedDiff(MAIL, 'fix.patch');
    const r = applyFilePatch(fp!, OLD.replace('j\n', 'jj\n'), 'dir/f.c');
    expect('failed' in r && r.failed).toEqual([
      expect.objectContaining({ file: 'fix.patch', line: 18, code: 'patch-hunk-failed', message: expect.stringMatching(/^hunk #2 of dir\/f\.c \(@@ -9,3 \+10,3 @@\) does not apply/) }),
    ]);
    const twice = applyFilePatch(fp!, OLD.replace('b\n', 'b\nB\n').replace('j\n', 'J\n'), 'dir/f.c');
    expect('failed' in twice && twice.failed[0]!.message).toMatch(/already there/);
  });

  it('refuses what is not a unified diff, and a hunk cut short', () => {
    expect(() => parseUnifiedDiff('just text\n', 'x.patch')).toThrow(/no unified diff/);
    expect(() => parseUnifiedDiff('--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n', 'x.patch')).toThrow(/cut short/);
  });
});
