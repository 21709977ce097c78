import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
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
