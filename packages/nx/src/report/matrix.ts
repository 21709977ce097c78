import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { formatVerifySarif, type VerifyReport } from '@klp-split/runtime-sim';
import { RELEASE } from '@klp-split/kernel-facts';
import { explainCell } from './explain.js';

/** One verify result of the matrix: a livepatch on a kernel. */
interface MatrixCell {
  livepatch: string;
  kernel: string;
  file: string;
  report: VerifyReport;
}

interface Matrix {
  livepatches: string[];
  kernels: string[];
  cells: MatrixCell[];
}

const SKIP = new Set(['node_modules', '.nx', '.git']);

/**
 * The verify executor writes the report's directory relative to the
 * workspace (Nx restores it in other clones): it is the directory the
 * report is in, whatever the current directory.
 */
function reportDir(dir: string, file: string): string {
  if (isAbsolute(dir)) return dir;
  const here = resolve(dirname(file));
  return here === resolve(dir) || here.endsWith(`${sep}${normalize(dir)}`) ? here : dir;
}

/** Every out/<release>/verify.json under the roots (what the per-kernel verify targets write). */
export function collectMatrix(roots: string[]): Matrix {
  const cells: MatrixCell[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory() || SKIP.has(e.name)) continue;
      const p = join(dir, e.name);
      if (e.name === 'out') {
        for (const k of readdirSync(p)) {
          const file = join(p, k, 'verify.json');
          if (RELEASE.test(k) && existsSync(file) && statSync(file).isFile()) {
            const report = JSON.parse(readFileSync(file, 'utf8')) as VerifyReport;
            cells.push({ livepatch: report.patch, kernel: k, file, report: { ...report, dir: reportDir(report.dir, file) } });
          }
        }
        continue;
      }
      walk(p);
    }
  };
  for (const r of roots) walk(r);
  const byRelease = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });
  return {
    livepatches: [...new Set(cells.map((c) => c.livepatch))].sort(),
    kernels: [...new Set(cells.map((c) => c.kernel))].sort(byRelease),
    cells,
  };
}

/** A cell in a few words: OK, or its first finding, the symbol finding that explains a failed load first. */
export function cellText(c: MatrixCell | undefined, width = 80): string {
  if (!c) return '(not verified)';
  const f = explainCell(c.report, c.kernel);
  if (!f) return 'OK';
  return f.text.length > width ? `${f.text.slice(0, width - 1)}…` : f.text;
}

const cell = (m: Matrix, lp: string, k: string): MatrixCell | undefined => m.cells.find((c) => c.livepatch === lp && c.kernel === k);

export function formatMatrixText(m: Matrix): string {
  const header = ['livepatch', ...m.kernels];
  const rows = m.livepatches.map((lp) => [lp, ...m.kernels.map((k) => cellText(cell(m, lp, k)))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function formatMatrixMarkdown(m: Matrix): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const ok = m.cells.filter((c) => c.report.ok).length;
  return [
    '# klp-split: livepatches × kernels',
    '',
    `${ok} of ${m.cells.length} verified OK on ${m.kernels.length} kernel${m.kernels.length === 1 ? '' : 's'}.`,
    '',
    `| livepatch | ${m.kernels.map(esc).join(' | ')} |`,
    `|---|${m.kernels.map(() => '---').join('|')}|`,
    ...m.livepatches.map((lp) => `| ${esc(lp)} | ${m.kernels.map((k) => esc(cellText(cell(m, lp, k)))).join(' | ')} |`),
    '',
  ].join('\n');
}

/** SARIF 2.1.0 with one run per kernel (automationDetails names the kernel), as code scanning groups them. */
export function formatMatrixSarif(m: Matrix, baseDir: string = process.cwd()): string {
  const runs = m.kernels.map((k) => {
    const run = (JSON.parse(formatVerifySarif(m.cells.filter((c) => c.kernel === k).map((c) => c.report), baseDir)) as { runs: Record<string, unknown>[] }).runs[0]!;
    return { ...run, automationDetails: { id: `klp-split/verify/${k}/` }, properties: { kernel: k } };
  });
  return `${JSON.stringify({ $schema: 'https://json.schemastore.org/sarif-2.1.0.json', version: '2.1.0', runs }, null, 2)}\n`;
}
