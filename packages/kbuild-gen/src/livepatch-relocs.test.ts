import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '@klp-split/core';
import { undefinedReports } from './livepatch-relocs.js';

const modpost = (message: string): Diagnostic => ({ file: 'Module.symvers', line: 0, col: 0, severity: 'warning', code: 'modpost', message });

describe('undefinedReports', () => {
  it("names the modules modpost reported undefined symbols for", () => {
    const r = undefinedReports([modpost('"max_threads" [a.ko] undefined!'), modpost('"klp_x" [/abs/b.ko] undefined!')], '/dir');
    expect([...r!].sort()).toEqual(['/abs/b.ko', '/dir/a.ko']);
  });

  // modpost stops after 10 reports: a module without one may still have undefined symbols, and the
  // relocation pass would have skipped it (found by the differential relocation suite: 18 livepatches, 7 converted).
  it('gives no list once modpost suppressed reports', () => {
    const r = undefinedReports([modpost('"max_threads" [a.ko] undefined!'), modpost('suppressed 8 unresolved symbol warnings because there were too many)')], '/dir');
    expect(r).toBeUndefined();
  });
});
