import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { guestDone, parseGuestReport } from '../../packages/nx/src/real-kernel/guest-report.js';
import { runGuest, type KernelKind } from '../../packages/nx/src/real-kernel/guest-run.js';
import { klpSplit, ROOT } from './env.js';

/**
 * The fixes of test/fixtures/create/: each <name>/fix.patch is a fix written
 * against Debian's linux-source-6.1 in the shape of a real CVE fix (the
 * refuse-* ones are fixes create must refuse). The livepatch of fix <name>
 * is the module klpc_<name with underscores>.
 */
export const CREATE_FIXTURES = join(ROOT, 'test/fixtures/create');

export function createFixtures(): { name: string; patch: string; refused: boolean }[] {
  return readdirSync(CREATE_FIXTURES)
    .filter((n) => existsSync(join(CREATE_FIXTURES, n, 'fix.patch')))
    .sort()
    .map((name) => ({ name, patch: join(CREATE_FIXTURES, name, 'fix.patch'), refused: name.startsWith('refuse-') }));
}

export function moduleOfFixture(name: string): string {
  return `klpc_${name.replace(/-/g, '_')}`;
}

export interface CreatedFix {
  name: string;
  module: string;
  dir: string;
  /** Debian's .ko of each module the fix patches (for build --target). */
  targets: string[];
  create: { code: number; stdout: string; stderr: string };
  /** The parsed `create --json` output. */
  json: { ok: boolean; objects: { object: string; functions: { name: string; oldName: string; sympos: number; reason: string }[]; targetModule?: string }[]; diagnostics: { code: string; severity: string; message: string; line: number; file: string }[] };
}

/** `klp-split create --json` of a fixture into `dir`. */
export async function createFix(name: string, dir: string, extra: string[] = []): Promise<CreatedFix> {
  const module = moduleOfFixture(name);
  const create = await klpSplit(['create', join(CREATE_FIXTURES, name, 'fix.patch'), '--out', dir, '--name', module, '--json', ...extra]);
  const json = JSON.parse(create.stdout || '{"ok":false,"objects":[],"diagnostics":[]}') as CreatedFix['json'];
  const targets = json.objects.map((o) => o.targetModule).filter((t): t is string => !!t);
  return { name, module, dir, targets, create, json };
}

/** Runs `work` over `items`, at most `limit` at a time (kbuild runs are heavy on 2 cores). */
export async function inBatches<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]!);
      }
    }),
  );
  return out;
}

export interface CreateGuestRun {
  /** A case's output lines and `rc=<status>` (test/guest/create-real.sh's case ids). */
  out: (id: string) => string[];
  dmesg: string;
}

/**
 * One boot of the stock or split kernel running test/guest/create-real.sh
 * over the livepatches given (name in the guest -> .ko), with `kos` installed
 * for modprobe; the run must end cleanly, without a guest problem.
 */
export async function runCreateGuest(kernel: KernelKind, files: Record<string, string>, kos: string[], workDir: string): Promise<CreateGuestRun> {
  const r = await runGuest({ kernel, kos, script: join(ROOT, 'test/guest/create-real.sh'), files, workDir, timeoutS: 600 });
  if (r.exitCode !== 0 || !guestDone(r.output)) throw new Error(`the guest run failed (${r.exitCode}):\n${r.output}\n${r.stderr}`);
  const report = parseGuestReport(r.dmesg, () => false);
  if (report.problems.length) throw new Error(`guest problems: ${report.problems.join('; ')}`);
  const blocks = new Map([...report.cases].map(([id, lines]) => [id, lines.flatMap((l) => (l.kind === 'out' ? [l.text] : l.kind === 'rc' ? [`rc=${l.status}`] : []))]));
  return { out: (id) => blocks.get(id) ?? [`(no case ${id})`], dmesg: r.dmesg };
}
