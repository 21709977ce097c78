import { describe, expect, it } from 'vitest';
import { klpRelaName, klpSymName, parseKlpRelaName, parseKlpSymName, scanKlpRelaName, scanKlpSymName } from './klp-names.js';

const obj55 = 'o'.repeat(55);
const sym511 = 's'.repeat(511);

describe('.klp.sym names', () => {
  it('reads back what klpSymName writes, dots in the symbol included', () => {
    const name = klpSymName('vmlinux', 'foo.constprop.0', 2);
    expect(name).toBe('.klp.sym.vmlinux.foo.constprop.0,2');
    expect(parseKlpSymName(name)).toEqual({ object: 'vmlinux', symbol: 'foo.constprop.0', sympos: 2 });
    expect(scanKlpSymName(name)).toEqual({ object: 'vmlinux', symbol: 'foo.constprop.0', sympos: 2 });
  });

  it('takes an object of at most 55 characters (%55[^.]) and a symbol of at most 511 (%511[^,])', () => {
    expect(scanKlpSymName(`.klp.sym.${obj55}.f,0`)?.object).toBe(obj55);
    expect(scanKlpSymName(`.klp.sym.${obj55}o.f,0`)).toBeUndefined();
    expect(parseKlpSymName(`.klp.sym.${obj55}o.f,0`)).toBeUndefined();
    expect(scanKlpSymName(`.klp.sym.m.${sym511},1`)?.symbol).toBe(sym511);
    expect(scanKlpSymName(`.klp.sym.m.${sym511}s,1`)).toBeUndefined();
    expect(parseKlpSymName(`.klp.sym.m.${sym511}s,1`)).toBeUndefined();
  });

  it("reads the position as %lu does (blanks, '+', anything after), where the exact form takes decimal digits only", () => {
    expect(scanKlpSymName('.klp.sym.m.f, +3junk')?.sympos).toBe(3);
    expect(parseKlpSymName('.klp.sym.m.f, +3junk')).toBeUndefined();
    expect(parseKlpSymName('.klp.sym.m.f,3junk')).toBeUndefined();
    expect(scanKlpSymName('.klp.sym.m.f,-1')).toBeUndefined();
    expect(scanKlpSymName('.klp.sym.m.f')).toBeUndefined();
    expect(scanKlpSymName('.klp.sym..f,0')).toBeUndefined();
  });
});

describe('.klp.rela names', () => {
  it("reads the object up to the first '.', at most 55 characters", () => {
    expect(klpRelaName('nfsd', '.text')).toBe('.klp.rela.nfsd.text');
    expect(parseKlpRelaName('.klp.rela.nfsd.text')).toBe('nfsd');
    expect(scanKlpRelaName('.klp.rela.nfsd.text')).toBe('nfsd');
    expect(scanKlpRelaName('.klp.rela.nfsd')).toBe('nfsd');
    expect(parseKlpRelaName('.klp.rela.nfsd')).toBeUndefined();
    expect(scanKlpRelaName(`.klp.rela.${obj55}x.text`)).toBe(obj55);
    expect(scanKlpRelaName('.klp.rela..text')).toBeUndefined();
  });
});
