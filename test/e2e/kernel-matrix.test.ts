import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installedKernel } from '@klp-split/kernel-facts';
import { klpSplit, removeDir, ROOT, samples, tempDir } from '../helpers/env.js';
import { sharedFixture } from '../helpers/fixtures.js';

/**
 * Issue 16: the kernel's own livepatch samples and two livepatches of our
 * own whose result differs between kernels, on three Debian kernels (the
 * kernel environment's 6.1 ABI, the 6.1 ABI before it, the newest 6.12),
 * all discovered from apt, and the matrix report over them. Every cell is
 * explained by the kernel's own symbol table (its kallsyms dump).
 */
const FIXTURES = join(ROOT, 'test/fixtures/kernel-matrix');
const LIVEPATCHES = [
  { source: samples('livepatch-sample.c'), targets: [] as string[] },
  { source: samples('livepatch-shadow-fix1.c'), targets: ['livepatch-shadow-mod.c'] },
  { source: samples('livepatch-callbacks-demo.c'), targets: ['livepatch-callbacks-mod.c'] },
  // seq_puts: exported by 6.1's fs/seq_file.c, a static inline around __seq_puts in 6.12's <linux/seq_file.h>.
  { source: join(FIXTURES, 'klpm-seq-puts.c'), targets: [] as string[] },
  // virtio's vendor_show/device_show: one each in 6.1's vmlinux, two each in 6.12's.
  { source: join(FIXTURES, 'klpm-virtio-ids.c'), targets: [] as string[] },
];
const stem = (source: string): string => basename(source).replace(/\.c$/, '');

let kernels: string[];
/** The matrix built: <livepatch>/out/<release>/ and targets/<release>/ (a shared fixture, read only). */
let ws: string;
/** Where the reports go. */
let reports: string;

async function ok(args: string[]) {
  const r = await klpSplit(args);
  if (r.code !== 0) throw new Error(`klp-split ${args.join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/**
 * Every livepatch split, built and verified on every kernel: a shared
 * fixture keyed by what the commands read (the tool, the sources, gcc, and
 * each kernel's headers, Module.symvers and kallsyms dump).
 */
function builtMatrix(): Promise<string> {
  const facts = kernels.map((k) => {
    const { kdir, kallsyms } = installedKernel(k);
    return `kernel ${k} ${kdir} ${sha(join(kdir, 'Module.symvers'))} ${kallsyms ? sha(kallsyms) : 'no kallsyms'}`;
  });
  const files = LIVEPATCHES.flatMap((lp) => [lp.source, ...lp.targets.map((t) => samples(t))]);
  return sharedFixture('kernel-matrix', { files, facts }, async (d) => {
    for (const k of kernels) {
      const targets = join(d, 'targets', k);
      mkdirSync(targets, { recursive: true });
      for (const lp of LIVEPATCHES) for (const t of lp.targets) cpSync(samples(t), join(targets, t));
      await ok(['build', '--kernel', k, targets]);
      for (const lp of LIVEPATCHES) {
        const name = stem(lp.source);
        const out = join(d, name, 'out', k);
        await ok(['split', lp.source, '--out', out, '--kdir', installedKernel(k).kdir]);
        await ok(['build', '--kernel', k, out]);
        // Findings are the matrix's content: exit 1 is a result here, 2 and 3 are not.
        const v = await klpSplit(['verify', '--kernel', k, out, '--report', join(out, 'verify.json'), ...lp.targets.flatMap((t) => ['--target', join(targets, t.replace(/\.c$/, '.ko'))])]);
        if (v.code !== 0 && v.code !== 1) throw new Error(`verify ${name} on ${k}: ${v.code}\n${v.stderr}`);
      }
    }
  });
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
  ws = await builtMatrix();
  reports = tempDir('matrix');
}, 1_800_000);

afterAll(() => {
  if (reports) removeDir(reports);
});

/** How often each text symbol is in a kernel's vmlinux (kallsyms dump lines without a [module] column). */
function vmlinuxText(kernel: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of readFileSync(installedKernel(kernel).kallsyms!, 'utf8').split('\n')) {
    const [, type, name, mod] = line.split(/\s+/);
    if (name && !mod && (type === 't' || type === 'T')) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

interface JsonCell {
  livepatch: string;
  kernel: string;
  ok: boolean;
  summary: string;
  file: string;
  finding?: { code: string; text: string; symbol?: string; object?: string; count?: number };
}

/** The vmlinux functions a livepatch replaces on a kernel (the split manifest in its out/<release>), with their old_sympos. */
function vmlinuxFuncs(outDir: string): { oldName: string; sympos: number }[] {
  const manifest = JSON.parse(readFileSync(join(outDir, 'klp-split.json'), 'utf8')) as { parts: { object: string; funcs?: { oldName: string; sympos?: number }[] }[] };
  return manifest.parts.filter((p) => p.object === 'vmlinux').flatMap((p) => (p.funcs ?? []).map((f) => ({ oldName: f.oldName, sympos: f.sympos ?? 0 })));
}

describe('the corpus livepatches on three kernels', () => {
  it('reports one livepatch x kernel table in the terminal, Markdown and SARIF (one run per kernel)', async () => {
    const r = await klpSplit(['report', ws, '--markdown', join(reports, 'matrix.md'), '--sarif', join(reports, 'matrix.sarif'), '--json']);
    expect([0, 1]).toContain(r.code);
    const m = JSON.parse(r.stdout) as { livepatches: string[]; kernels: string[]; cells: { livepatch: string; kernel: string; ok: boolean }[] };
    expect(m.kernels).toEqual([...kernels].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })));
    expect(m.cells).toHaveLength(LIVEPATCHES.length * kernels.length);
    expect(r.code).toBe(m.cells.every((c) => c.ok) ? 0 : 1);
    const md = readFileSync(join(reports, 'matrix.md'), 'utf8');
    expect(md).toContain(`| livepatch | ${m.kernels.join(' | ')} |`);
    for (const lp of m.livepatches) expect(md).toMatch(new RegExp(`^\\| ${lp} \\|`, 'm'));
    const sarif = JSON.parse(readFileSync(join(reports, 'matrix.sarif'), 'utf8')) as { runs: { automationDetails: { id: string }; properties: { kernel: string } }[] };
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
        const name = stem(lp.source);
        const report = JSON.parse(readFileSync(join(ws, name, 'out', k, 'verify.json'), 'utf8')) as { ok: boolean; diagnostics: { code: string; message: string }[] };
        for (const { oldName: f } of vmlinuxFuncs(join(ws, name, 'out', k))) {
          const missing = report.diagnostics.some((d) => d.code === 'old-name-not-found' && d.message.includes(`'${f}'`));
          // The load stops at the first symbol it cannot resolve: a missing name is reported, or an earlier one failed.
          if (missing || report.ok) expect(missing, `${name} on ${k}: ${f}`).toBe(!text.has(f));
        }
        if (report.ok) expect(report.diagnostics.filter((d) => d.code === 'old-name-not-found')).toEqual([]);
      }
    }
  });
});

describe('differences between the kernels', () => {
  it("shows every difference in a few words, each one a fact of that kernel's symbol table", async () => {
    const r = await klpSplit(['report', ws, '--json', '--markdown', join(reports, 'matrix.md')]);
    const m = JSON.parse(r.stdout) as { livepatches: string[]; kernels: string[]; cells: JsonCell[] };
    const md = readFileSync(join(reports, 'matrix.md'), 'utf8');
    const counts = new Map(m.kernels.map((k) => [k, vmlinuxText(k)]));
    const differing = m.livepatches.filter((lp) => new Set(m.cells.filter((c) => c.livepatch === lp).map((c) => c.summary)).size > 1);
    // Our two fixtures differ between 6.1 and 6.12 (the samples do not): the matrix is not uniform by construction.
    expect(differing).toEqual(expect.arrayContaining(['klpm_seq_puts', 'klpm_virtio_ids']));
    for (const lp of differing) {
      for (const c of m.cells.filter((x) => x.livepatch === lp)) {
        const syms = counts.get(c.kernel)!;
        const funcs = vmlinuxFuncs(dirname(c.file));
        if (c.ok) {
          expect(c.summary).toBe('OK');
          // Where it loads, every replaced function is where old_sympos says: one occurrence for sympos 0.
          for (const f of funcs) expect(f.sympos === 0 ? syms.get(f.oldName) : (syms.get(f.oldName) ?? 0) >= f.sympos, `${lp} on ${c.kernel}: ${f.oldName}`).toBe(f.sympos === 0 ? 1 : true);
          continue;
        }
        const f = c.finding!;
        expect(['old-name-not-found', 'sympos-ambiguous', 'sympos-missing'], `${lp} on ${c.kernel}: ${c.summary}`).toContain(f.code);
        expect(f.object).toBe('vmlinux');
        expect(funcs.map((x) => x.oldName)).toContain(f.symbol);
        // The words are the fact: the count the report gives is the count in that kernel's kallsyms.
        expect(syms.get(f.symbol!) ?? 0, `${lp} on ${c.kernel}: ${f.symbol}`).toBe(f.count);
        if (f.code === 'old-name-not-found') expect(c.summary).toBe(`old_name '${f.symbol}' not in ${c.kernel}: renamed, removed or inlined?`);
        if (f.code === 'sympos-ambiguous') expect(c.summary).toBe(`old_name '${f.symbol}' ${f.count} times in ${c.kernel}: set old_sympos`);
        if (f.code === 'sympos-ambiguous') expect(f.count).toBeGreaterThan(1);
        expect(c.summary.length).toBeLessThanOrEqual(80);
        expect(md).toContain(c.summary);
      }
    }
  });

  it('explains the seq_puts difference by the 6.12 headers: there seq_puts is a static inline, so vmlinux has none to replace', () => {
    for (const k of kernels) {
      // Debian splits the headers: linux-headers-<release> (the kdir) and its -common sibling with include/.
      const kdir = installedKernel(k).kdir;
      const h = join(dirname(kdir), basename(kdir).replace(/-amd64$/, '-common'), 'include/linux/seq_file.h');
      expect(existsSync(h), h).toBe(true);
      const inline = /static\s+(__always_)?inline\s+void\s+seq_puts\(/.test(readFileSync(h, 'utf8'));
      expect(inline, k).toBe(!vmlinuxText(k).has('seq_puts'));
    }
  });
});
