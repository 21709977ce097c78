import { describe, expect, it } from 'vitest';
import { decodeLines, encodeLines, originalLine } from './source-map.js';

describe('source map', () => {
  it('encodes moved runs and generated lines compactly and reads them back', () => {
    const lines = [{ source: 0, line: 1, exact: true }, { source: 0, line: 2, exact: true }, undefined, { source: 0, line: 9, exact: false }, { source: 0, line: 9, exact: false }, { source: 1, line: 4, exact: true }];
    const text = encodeLines(lines);
    expect(text).toBe('1,0,1,2,1;4,0,9,2,0;6,1,4,1,1');
    expect([...decodeLines(text)].map(([g, o]) => `${g}:${o.source}:${o.line}`)).toEqual(['1:0:1', '2:0:2', '4:0:9', '5:0:9', '6:1:4']);
    const map = { sources: ['a.c', 'b.c'], files: { 'x.c': text } };
    expect(originalLine(map, 'x.c', 2)).toEqual({ file: 'a.c', line: 2, exact: true });
    expect(originalLine(map, 'x.c', 6)).toEqual({ file: 'b.c', line: 4, exact: true });
    expect(originalLine(map, 'x.c', 3)).toBeUndefined();
    expect(originalLine(map, 'y.c', 1)).toBeUndefined();
  });
});
