import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { installedKernel } from '../../packages/nx/src/kernels/installed-kernels.js';
import { klpSplit, removeDir, samples, tempDir } from '../helpers/env.js';

/**
 * Issue 16: the kernel's own livepatch samples on three Debian kernels (the
 * kernel environment's 6.1 ABI, the 6.1 ABI before it, the newest 6.12),
 * all discovered from apt, and the matrix report over them. Every cell is
 * explained by the kernel's own symbol table (its kallsyms dump).
 */
const LIVEPATCHES = [
  { source: 'livepatch-sample.c', targets: [] as string[] },
  { source: 'livepatch-shadow-fix1.c', targets: ['livepatch-shadow-mod.c'] },
  { source: 'livepatch-callbacks-demo.c', targets: ['livepatch-callbacks-mod.c'] },
];

let kernels: string[];
let ws: string;

async function ok(args: string[]) {
  const r = await klpSplit(args);
  if (r.code !== 0) throw new Error(`klp-split ${args.join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

beforeAll(async () => {
  const env61 = (await ok(['kernel-id'])).stdout.split(' ')[0]!;
  const available = (await ok(['kernel', 'list', '--available'])).stdout.split('\n');
  const abis61 = available.filter((r) => /^6\.1\.0-\d+-amd64$/.test(r) && r !== env61);
  const other61 = abis61.filter((r) => r.localeCompare(env61, 'en', { numeric: true }) < 0).at(-1) ?? abis61.at(-1);
  const newest612 = available.filter((r) => /^6\.12\.\d+\+deb12-amd64$/.test(r)).at(-1);
  if (!other61 || !newest612) throw new Error(`apt offers no second 6.1 ABI or no 6.12:\n${available.join('\n')}`);
  kernels = [env61, other61, newest612];
  await ok(['kernel', 'add', ...kernels]);

  ws = tempDir('matrix');
  for (const k of kernels) {
    const targets = join(ws, 'targets', k);
    mkdirSync(targets, { recursive: true });
    for (const lp of LIVEPATCHES) for (const t of lp.targets) cpSync(samples(t), join(targets, t));
    await ok(['build', '--kernel', k, targets]);
    for (const lp of LIVEPATCHES) {
      const name = lp.source.replace(/\.c$/, '');
      const out = join(ws, name, 'out', k);
      await ok(['split', samples(lp.source), '--out', out, '--kdir', installedKernel(k).kdir]);
      await ok(['build', '--kernel', k, out]);
      // Findings are the matrix's content: exit 1 is a result here, 2 and 3 are not.
      const v = await klpSplit(['verify', '--kernel', k, out, '--report', join(out, 'verify.json'), ...lp.targets.flatMap((t) => ['--target', join(targets, t.replace(/\.c$/, '.ko'))])]);
      if (v.code !== 0 && v.code !== 1) throw new Error(`verify ${name} on ${k}: ${v.code}\n${v.stderr}`);
    }
  }
}, 1_800_000);

/** The text symbols of a kernel's kallsyms dump (vmlinux only: no [module] column). */
function vmlinuxText(kernel: string): Set<string> {
  const names = new Set<string>();
  for (const line of readFileSync(installedKernel(kernel).kallsyms!, 'utf8').split('\n')) {
    const [, type, name, mod] = line.split(/\s+/);
    if (name && !mod && (type === 't' || type === 'T')) names.add(name);
  }
  return names;
}

describe('the corpus livepatches on three kernels', () => {
  it('reports one livepatch x kernel table in the terminal, Markdown and SARIF (one run per kernel)', async () => {
    const r = await klpSplit(['report', ws, '--markdown', join(ws, 'matrix.md'), '--sarif', join(ws, 'matrix.sarif'), '--json']);
    expect([0, 1]).toContain(r.code);
    const m = JSON.parse(r.stdout) as { livepatches: string[]; kernels: string[]; cells: { livepatch: string; kernel: string; ok: boolean }[] };
    expect(m.kernels).toEqual([...kernels].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })));
    expect(m.cells).toHaveLength(LIVEPATCHES.length * kernels.length);
    expect(r.code).toBe(m.cells.every((c) => c.ok) ? 0 : 1);
    const md = readFileSync(join(ws, 'matrix.md'), 'utf8');
    expect(md).toContain(`| livepatch | ${m.kernels.join(' | ')} |`);
    for (const lp of m.livepatches) expect(md).toMatch(new RegExp(`^\\| ${lp} \\|`, 'm'));
    const sarif = JSON.parse(readFileSync(join(ws, 'matrix.sarif'), 'utf8')) as { runs: { automationDetails: { id: string }; properties: { kernel: string } }[] };
    expect(sarif.runs.map((run) => run.properties.kernel)).toEqual(m.kernels);
    expect(new Set(sarif.runs.map((run) => run.automationDetails.id)).size).toBe(kernels.length);
    const text = await klpSplit(['report', ws]);
    console.log(text.stdout);
    expect(text.stdout.split('\n')[0]).toMatch(new RegExp(`^livepatch\\s+${m.kernels.map((k) => k.replace(/[.+]/g, '\\$&')).join('\\s+')}$`));
  });

  it("explains every cell by the kernel's symbol table: a patched vmlinux function is there where the result is OK, missing where it is not found", () => {
    for (const k of kernels) {
      const text = vmlinuxText(k);
      for (const lp of LIVEPATCHES) {
        const name = lp.source.replace(/\.c$/, '');
        const report = JSON.parse(readFileSync(join(ws, name, 'out', k, 'verify.json'), 'utf8')) as { ok: boolean; diagnostics: { code: string; message: string }[] };
        const manifest = JSON.parse(readFileSync(join(ws, name, 'out', k, 'klp-split.json'), 'utf8')) as { parts: { object: string; funcs?: { oldName: string }[] }[] };
        const vmlinuxFuncs = manifest.parts.filter((p) => p.object === 'vmlinux').flatMap((p) => (p.funcs ?? []).map((f) => f.oldName));
        for (const f of vmlinuxFuncs) {
          const missing = report.diagnostics.some((d) => d.code === 'old-name-not-found' && d.message.includes(`'${f}'`));
          expect(missing, `${name} on ${k}: ${f}`).toBe(!text.has(f));
        }
        if (report.ok) expect(report.diagnostics.filter((d) => d.code === 'old-name-not-found')).toEqual([]);
      }
    }
  });
});

describe('cleanup', () => {
  it('removes the scratch directory', () => {
    removeDir(ws);
  });
});
