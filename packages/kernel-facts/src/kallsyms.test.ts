import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { KallsymsError, parseKallsyms, VMLINUX } from './kallsyms.js';

const ROOT = resolve(import.meta.dirname, '../../..');

const SAMPLE = [
  '0000000000000000 A fixed_percpu_data',
  'ffffffff81000000 T _text',
  'ffffffff81001000 t dup_helper',
  'ffffffff81002000 T cmdline_proc_show',
  'ffffffff81003000 t dup_helper',
  'ffffffff81004000 d dup_helper',
  'ffffffffc0201000 t dup_helper\t[livepatch_sample]',
  'ffffffffc0201030 t livepatch_cmdline_proc_show\t[livepatch_sample]',
  'ffffffffc0300000 T init_module\t[other_mod]',
  'ffffffffc0201040 T cleanup_module\t[livepatch_sample]',
  '',
].join('\n');

function parseError(text: string): KallsymsError {
  try {
    parseKallsyms(text, 'k.txt');
  } catch (e) {
    expect(e).toBeInstanceOf(KallsymsError);
    return e as KallsymsError;
  }
  throw new Error('expected a KallsymsError');
}

describe('parseKallsyms', () => {
  it('reads vmlinux and module lines with type letters and bigint addresses', () => {
    const k = parseKallsyms(SAMPLE, 'k.txt');
    expect(k.file).toBe('k.txt');
    expect(k.symbols).toHaveLength(10);
    expect(k.symbols[0]).toEqual({ name: 'fixed_percpu_data', type: 'A', address: 0n, object: VMLINUX, line: 1 });
    expect(k.symbols[1]).toEqual({ name: '_text', type: 'T', address: 0xffffffff81000000n, object: 'vmlinux', line: 2 });
    expect(k.symbols[7]).toEqual({
      name: 'livepatch_cmdline_proc_show',
      type: 't',
      address: 0xffffffffc0201030n,
      object: 'livepatch_sample',
      line: 8,
    });
  });

  it('groups symbols per object in file order', () => {
    const k = parseKallsyms(SAMPLE, 'k.txt');
    expect(k.objects()).toEqual(['vmlinux', 'livepatch_sample', 'other_mod']);
    expect(k.symbolsOf().map((s) => s.name)).toEqual(['fixed_percpu_data', '_text', 'dup_helper', 'cmdline_proc_show', 'dup_helper', 'dup_helper']);
    expect(k.symbolsOf('livepatch_sample').map((s) => s.name)).toEqual(['dup_helper', 'livepatch_cmdline_proc_show', 'cleanup_module']);
    expect(k.symbolsOf('no_such_mod')).toEqual([]);
  });

  it('counts occurrences per object, in kallsyms order, whatever the type', () => {
    const k = parseKallsyms(SAMPLE, 'k.txt');
    expect(k.count('dup_helper')).toBe(3);
    expect(k.occurrences('dup_helper').map((s) => [s.type, s.line])).toEqual([
      ['t', 3],
      ['t', 5],
      ['d', 6],
    ]);
    expect(k.count('dup_helper', 'livepatch_sample')).toBe(1);
    expect(k.count('cmdline_proc_show')).toBe(1);
    expect(k.count('livepatch_cmdline_proc_show')).toBe(0);
    expect(k.has('livepatch_cmdline_proc_show', 'livepatch_sample')).toBe(true);
    expect(k.count('anything', 'no_such_mod')).toBe(0);
    expect([...k.duplicates()]).toEqual([['dup_helper', 3]]);
    expect(k.duplicates('livepatch_sample').size).toBe(0);
  });

  it("resolves old_sympos like livepatch's klp_find_object_symbol", () => {
    const k = parseKallsyms(SAMPLE, 'k.txt');
    // sympos 0: the name must be unique in the object.
    expect(k.klpLookup('cmdline_proc_show', 0)).toMatchObject({ ok: true, symbol: { address: 0xffffffff81002000n } });
    expect(k.klpLookup('dup_helper', 0, 'livepatch_sample')).toMatchObject({ ok: true, symbol: { address: 0xffffffffc0201000n } });
    expect(k.klpLookup('dup_helper', 0)).toEqual({
      ok: false,
      reason: 'ambiguous',
      message: "unresolvable ambiguity for symbol 'dup_helper' in object '(null)'",
      count: 2,
    });
    // sympos n: the n-th occurrence, 1-based; 1 is fine for a unique name.
    expect(k.klpLookup('cmdline_proc_show', 1)).toMatchObject({ ok: true, count: 1 });
    expect(k.klpLookup('dup_helper', 2)).toMatchObject({ ok: true, symbol: { line: 5 }, count: 2 });
    expect(k.klpLookup('dup_helper', 3)).toMatchObject({ ok: true, symbol: { type: 'd', line: 6 } });
    expect(k.klpLookup('dup_helper', 4)).toEqual({
      ok: false,
      reason: 'no-such-position',
      message: "symbol position 4 for symbol 'dup_helper' in object 'vmlinux' not found",
      count: 3,
    });
    expect(k.klpLookup('livepatch_cmdline_proc_show', 0)).toMatchObject({ ok: false, reason: 'not-found', count: 0 });
    expect(() => k.klpLookup('dup_helper', -1)).toThrow(RangeError);
  });

  it('accepts empty text and text without a final newline', () => {
    expect(parseKallsyms('', 'k.txt').symbols).toEqual([]);
    const k = parseKallsyms('ffffffff81000000 T _text\nffffffffc0000000 t x\t[m]', 'k.txt');
    expect(k.symbols.map((s) => `${s.object}:${s.name}`)).toEqual(['vmlinux:_text', 'm:x']);
  });

  it('reports malformed lines as file:line: reason', () => {
    const bad: [string, number, RegExp][] = [
      ['ffffffff81000000 T _text\n\nffffffff81000001 T a\n', 2, /empty line/],
      ['ffffffff81000000 T _text\r\n', 1, /carriage return/],
      ['ffffffff81000000 T\n', 1, /expected '<address> <type> <name>'/],
      ['ffffffff81000000  T _text\n', 1, /single spaces/],
      ['ffffffff81000000 T _text extra\n', 1, /unexpected text after the symbol name '_text': "extra"/],
      ['ffffffff8100000g T _text\n', 1, /address "ffffffff8100000g" is not 1 to 16 hexadecimal digits/],
      ['1ffffffff81000000 T _text\n', 1, /address .* is not 1 to 16 hexadecimal digits/],
      ['ffffffff81000000 TT _text\n', 1, /symbol type "TT" is not one letter/],
      ['ffffffff81000000 T _text\nffffffff81000000 1 _text\n', 2, /symbol type "1"/],
      ['ffffffffc0000000 t x\tmod\n', 1, /expected '\[module\]' after the tab, got "mod"/],
      ['ffffffffc0000000 t x\t[mod] more\n', 1, /expected '\[module\]'/],
      ['ffffffffc0000000 t x\t[]\n', 1, /expected '\[module\]'/],
    ];
    for (const [text, line, reason] of bad) {
      const e = parseError(text);
      expect(e.file).toBe('k.txt');
      expect(e.line, text).toBe(line);
      expect(e.format(), text).toMatch(new RegExp(`^k\\.txt:${line}:1: error: .* \\[kallsyms-invalid\\]$`));
      expect(e.reason, text).toMatch(reason);
    }
  });
});

describe('real kallsyms of the Debian 6.1 kernel (qemu)', () => {
  it(
    'dumps /proc/kallsyms of the booted kernel and finds livepatch-relevant symbols',
    async () => {
      const r = await execa('bash', ['scripts/qemu-kernel.sh', 'kallsyms'], { cwd: ROOT, reject: false, timeout: 590_000 });
      if (r.exitCode !== 0) throw new Error(`scripts/qemu-kernel.sh kallsyms failed (${r.exitCode}):\n${r.stderr}`);
      const file = String(r.stdout).trim();
      expect(file).toMatch(/kallsyms-6\.1\.\d+-\d+-amd64\.txt$/);
      const k = parseKallsyms(readFileSync(file, 'utf8'), file);

      expect(k.symbols.length).toBeGreaterThan(50_000);
      for (const name of ['_text', 'klp_enable_patch', 'cmdline_proc_show', 'meminfo_proc_show']) {
        expect(k.has(name, VMLINUX), name).toBe(true);
      }
      expect(k.occurrences('_text')[0]).toMatchObject({ type: 'T', address: 0xffffffff81000000n }); // booted with nokaslr
      expect(k.klpLookup('klp_enable_patch', 0).ok).toBe(true);

      const dups = [...k.duplicates(VMLINUX)].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      expect(dups.length).toBeGreaterThan(0);
      const [name, count] = dups[0]!;
      expect(k.klpLookup(name, 0)).toMatchObject({ ok: false, reason: 'ambiguous' });
      expect(k.klpLookup(name, count)).toMatchObject({ ok: true });
      expect(k.klpLookup(name, count + 1)).toMatchObject({ ok: false, reason: 'no-such-position' });
      // Names for sympos tests: the most frequent, and a few text symbols seen twice.
      const twiceText = dups.filter(([n, c]) => c === 2 && k.occurrences(n).every((s) => s.type === 't')).slice(0, 10);
      console.log(
        `${file}: ${k.symbols.length} symbols, objects ${k.objects().join(' ')}; ${dups.length} names occur 2+ times in vmlinux\n` +
          `  most frequent: ${dups.slice(0, 10).map(([n, c]) => `${n} x${c}`).join(', ')}\n` +
          `  text symbols seen twice: ${twiceText.map(([n]) => n).join(', ')}`,
      );
    },
    600_000,
  );
});
