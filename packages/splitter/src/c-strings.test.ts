import { describe, expect, it } from 'vitest';
import { decodeCString, decodeCStrings } from './c-strings.js';

describe('decodeCString', () => {
  it('decodes hex, octal and simple escapes as C does', () => {
    expect(decodeCString('"klpr\\x5ftarget"')).toBe('klpr_target');
    expect(decodeCString('"klpr\\137target"')).toBe('klpr_target');
    expect(decodeCString('"a\\"b\\\\c\\n"')).toBe('a"b\\c\n');
    expect(decodeCString('"\\0"')).toBe('\0');
    expect(decodeCString('"\\1234"')).toBe('S4');
  });
  it('concatenates adjacent literals', () => {
    // Hex escapes are greedy: "\x74" "arget" is how C ends one before a hex digit.
    expect(decodeCStrings(['"klpr_"', '"\\x74"', '"arget"'])).toBe('klpr_target');
    expect(decodeCString('"\\x74arget"')).toBeUndefined();
  });
  it('refuses what is not a plain narrow literal', () => {
    expect(decodeCString('L"wide"')).toBeUndefined();
    expect(decodeCString('"bad\\q"')).toBeUndefined();
    expect(decodeCString('"\\x"')).toBeUndefined();
  });
});
