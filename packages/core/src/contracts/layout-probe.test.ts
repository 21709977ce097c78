import { describe, expect, it } from 'vitest';
import { layoutSymbolName, parseLayoutSymbolName, SPLIT_LAYOUT_FIELDS, STOCK_LAYOUT_FIELDS } from './layout-probe.js';

describe('the layout probe symbol names', () => {
  it('name and parse back every struct field of both layouts', () => {
    for (const fields of [SPLIT_LAYOUT_FIELDS, STOCK_LAYOUT_FIELDS]) {
      for (const [struct, names] of Object.entries(fields)) {
        for (const field of ['sizeof', ...names]) expect(parseLayoutSymbolName(layoutSymbolName(struct, field))).toEqual({ struct, field });
      }
    }
    expect(layoutSymbolName('klp_func', 'old_name')).toBe('klp_layout__klp_func__old_name');
    expect(parseLayoutSymbolName('klp_layout__klp_func')).toBeUndefined();
    expect(parseLayoutSymbolName('other_symbol')).toBeUndefined();
  });
});
