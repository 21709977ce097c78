import { describe, expect, it } from 'vitest';
import { clonesOf, staticLocalCandidates, symbolOfFile } from './file-symbols.js';
import type { CodeSymbol, ObjectCode } from './object-code.js';

/** An object whose symbols are in kallsyms order, as the dump lists them. */
function object(names: [string, CodeSymbol['kind']][]): ObjectCode {
  const symbols = names.map(([name, kind], index): CodeSymbol => ({ name, index, kind, global: false, address: BigInt(0x1000 + index * 16), size: 16 }));
  return {
    object: 'vmlinux',
    source: 'test',
    symbols,
    occurrences: (n) => symbols.filter((s) => s.name === n),
    references: () => new Set(),
    traceable: () => true,
    addressInData: () => false,
  };
}

describe("a file's symbols in its object", () => {
  // Two files with a static `pages_to_scan_show` each: khugepaged's, then KSM's.
  const code = object([
    ['scan_sleep_millisecs_show', 'text'], ['pages_to_scan_show', 'text'], ['pages_collapsed_show', 'text'], ['find_entry.isra.0', 'text'], ['full_scans_show', 'text'],
    ['ksm_scan_thread', 'text'], ['pages_to_scan_show', 'text'], ['run_show', 'text'], ['find_entry.isra.0', 'text'], ['merge_across_nodes_show', 'text'],
    ['warned.3', 'data'], ['khugepaged_pages_to_scan', 'data'], ['ksm_run', 'data'], ['warned.7', 'data'],
  ]);
  const khugepaged = new Set(['scan_sleep_millisecs_show', 'pages_to_scan_show', 'pages_collapsed_show', 'full_scans_show', 'khugepaged_pages_to_scan', 'warned']);
  const ksm = new Set(['ksm_scan_thread', 'pages_to_scan_show', 'run_show', 'merge_across_nodes_show', 'ksm_run', 'find_entry', 'warned']);

  it("tells a static name's occurrences apart by their neighbours, and gives the file's old_sympos", () => {
    expect(symbolOfFile(code, 'pages_to_scan_show', 'text', khugepaged)).toMatchObject({ found: true, sympos: 1, count: 2 });
    expect(symbolOfFile(code, 'pages_to_scan_show', 'text', ksm)).toMatchObject({ found: true, sympos: 2, count: 2 });
    expect(staticLocalCandidates(code, 'warned', ksm).map((s) => s.name)).toEqual(['warned.7']);
  });

  it('says when the neighbours cannot tell, rather than guess', () => {
    expect(symbolOfFile(code, 'pages_to_scan_show', 'text', new Set(['pages_to_scan_show']))).toMatchObject({ found: false, why: 'ambiguous' });
    expect(symbolOfFile(code, 'no_such', 'text', ksm)).toEqual({ found: false, why: 'absent' });
  });

  it("finds the compiler's clones and the static locals of the file", () => {
    expect(clonesOf(code, 'find_entry', ksm).map((s) => s.index)).toEqual([8]);
    expect(staticLocalCandidates(code, 'warned', khugepaged).map((s) => s.name)).toEqual(['warned.3']);
  });
});
