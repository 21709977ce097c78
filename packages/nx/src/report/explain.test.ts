import type { VerifyReport } from '@klp-split/runtime-sim';
import { describe, expect, it } from 'vitest';
import { explainCell } from './explain.js';

const K = '6.12.117+deb12-amd64';

/** A failed load as verify reports it: the load failure first, the livepatch core's reason after it. */
function failed(code: string, message: string): VerifyReport {
  const d = (c: string, m: string) => ({ file: 'fix.c', line: 0, col: 0, severity: 'error' as const, code: c, message: m });
  return { ok: false, patch: 'fix', dir: 'out', transcript: [], modules: [], vmlinuxSymbols: '', diagnostics: [d('patch-load-failed', "loading 'fix' after its targets failed (-22)"), d(code, message)] };
}

describe('explainCell', () => {
  it('gives a missing old_name in a few words, as a question: kallsyms cannot tell renamed from removed or inlined', () => {
    expect(explainCell(failed('old-name-not-found', "simulated load: 'seq_puts' is not in 'vmlinux'"), K)).toEqual({
      code: 'old-name-not-found',
      text: `old_name 'seq_puts' not in ${K}: renamed, removed or inlined?`,
      symbol: 'seq_puts',
      object: 'vmlinux',
      count: 0,
    });
  });

  it('names the module when the symbol belongs to one', () => {
    expect(explainCell(failed('old-name-not-found', "simulated load: 'foo' is not in 'ext4'"), K)?.text).toBe(`old_name 'foo' not in ext4 on ${K}: renamed, removed or inlined?`);
  });

  it('gives an ambiguous name with its count and what to do', () => {
    const f = explainCell(failed('sympos-ambiguous', "simulated load: 'vendor_show' appears 2 times in 'vmlinux'; set old_sympos"), K);
    expect(f).toMatchObject({ code: 'sympos-ambiguous', symbol: 'vendor_show', count: 2, text: `old_name 'vendor_show' 2 times in ${K}: set old_sympos` });
  });

  it('gives an old_sympos past the occurrences with both numbers', () => {
    const f = explainCell(failed('sympos-missing', "simulated load: 'foo' has 1 occurrence(s) in 'vmlinux', old_sympos is 3"), K);
    expect(f).toMatchObject({ code: 'sympos-missing', count: 1, sympos: 3, text: `old_sympos 3 of 'foo', ${K} has 1` });
  });

  it('gives an unchecked per-object module by the module it patches', () => {
    const r = failed('object-unchecked', "per-object module 'demo__busymod' was not checked against its target 'livepatch_callbacks_busymod' (busymod_work_func); give --target");
    expect(explainCell(r, K)?.text).toBe("loading 'fix' after its targets failed (-22) [patch-load-failed]");
    const unchecked = { ...r, diagnostics: [r.diagnostics[1]!] };
    expect(explainCell(unchecked, K)).toEqual({ code: 'object-unchecked', object: 'livepatch_callbacks_busymod', text: "module 'livepatch_callbacks_busymod' not checked: no built module given" });
  });

  it('shows any other finding as its message and code, and nothing for an OK result', () => {
    expect(explainCell(failed('something-else', 'it broke'), K)?.text).toBe("loading 'fix' after its targets failed (-22) [patch-load-failed]");
    expect(explainCell({ ...failed('x', 'y'), ok: true }, K)).toBeUndefined();
  });
});
