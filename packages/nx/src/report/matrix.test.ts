import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collectMatrix } from './matrix.js';

let ws: string;
afterEach(() => rmSync(ws, { recursive: true, force: true }));

/** A verify report as the Nx verify executor writes it: its directory relative to the workspace. */
function writeReport(dir: string, kernel: string, reportDir: string): string {
  const out = join(ws, dir, 'out', kernel);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'verify.json'), JSON.stringify({ ok: true, patch: 'fix', dir: reportDir, diagnostics: [], transcript: [], modules: [], vmlinuxSymbols: '' }));
  return out;
}

describe('collectMatrix', () => {
  it("takes a workspace-relative report directory as the directory the report is in, whatever the current directory (Nx restores reports in other clones)", () => {
    ws = mkdtempSync(join(tmpdir(), 'klp-split-matrix-'));
    const out = writeReport('livepatches/fix', '6.1.0-57-amd64', 'livepatches/fix/out/6.1.0-57-amd64');
    const m = collectMatrix([ws]);
    expect(process.cwd()).not.toBe(ws);
    expect(m.cells.map((c) => c.report.dir)).toEqual([out]);
  });

  it('keeps an absolute report directory, and a relative one that is not where the report is', () => {
    ws = mkdtempSync(join(tmpdir(), 'klp-split-matrix-'));
    writeReport('a', '6.1.0-57-amd64', '/elsewhere/out');
    writeReport('b', '6.1.0-57-amd64', 'somewhere/else');
    expect(collectMatrix([ws]).cells.map((c) => c.report.dir).sort()).toEqual(['/elsewhere/out', 'somewhere/else']);
  });
});
