import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { kernelEnv } from '@klp-split/kernel-facts';
import { caseCommands } from '../../helpers/real-kernel.js';
import { sharedFixture } from '../../helpers/fixtures.js';
import { corpus } from '../../helpers/env.js';
import type { BatchResult, RealBatch } from '../batch.js';

/**
 * test/e2e/real-kernel-selftests.test.ts: the kernel's own livepatch
 * selftests of 6.1 (tools/testing/selftests/livepatch), unmodified, on
 * Debian's kernel of the headers' release: the lib/livepatch test modules
 * built with their own Makefile (CONFIG_TEST_LIVEPATCH=m, plain kbuild), the
 * scripts copied byte for byte to the guest's /work and each run with bash
 * (@selftest). First in its boot, so the scripts see a kernel nothing else
 * has loaded modules into; the symbol table is read before anything loads.
 */

/** The limit of one script in the guest, in seconds. */
export const SCRIPT_TIMEOUT_S = 420;

const selftestsDir = (): string => join(corpus(), 'tools/testing/selftests/livepatch');
const testModulesDir = (): string => join(corpus(), 'lib/livepatch');

/** The scripts of the selftests Makefile's TEST_PROGS, in order. */
export function selftestScripts(): string[] {
  const makefile = readFileSync(join(selftestsDir(), 'Makefile'), 'utf8');
  const block = /^TEST_PROGS :=([^]*?)^$/m.exec(makefile)?.[1] ?? '';
  const scripts = block.match(/test-[A-Za-z0-9_-]*\.sh/g) ?? [];
  if (!scripts.length) throw new Error(`no TEST_PROGS in ${join(selftestsDir(), 'Makefile')}`);
  return scripts;
}

/** The lib/livepatch test modules, built by kbuild with their own Makefile (a shared fixture): the directory of the .ko files. */
export async function selftestModules(): Promise<{ dir: string; modules: string[] }> {
  const src = testModulesDir();
  const sources = ['Makefile', ...readFileSync(join(src, 'Makefile'), 'utf8').match(/test_klp_[a-z0-9_]*\.o/g)!.map((o) => o.replace(/\.o$/, '.c'))];
  const modules = sources.slice(1).map((c) => c.replace(/\.c$/, ''));
  const dir = await sharedFixture('selftest-modules', { files: sources.map((f) => join(src, f)), tool: false }, async (d) => {
    for (const f of sources) copyFileSync(join(src, f), join(d, f));
    const r = await execa('make', ['-C', kernelEnv().KLP_KDIR, `M=${d}`, 'CONFIG_TEST_LIVEPATCH=m', `-j${availableParallelism()}`, 'modules'], { reject: false, all: true, env: { LC_ALL: 'C' } });
    if (r.exitCode !== 0) throw new Error(`building the test modules failed: make -C <headers> M=<copy of lib/livepatch> CONFIG_TEST_LIVEPATCH=m modules\n${String(r.all).slice(-4000)}`);
    for (const m of modules) if (!existsSync(join(d, `${m}.ko`))) throw new Error(`make built no ${m}.ko`);
  });
  return { dir, modules };
}

export const selftestsBatch: RealBatch<{ modulesDir: string; scripts: string[] }> = {
  name: 'real-selftests',
  kernel: 'stock',
  suite: 'test/e2e/real-kernel-selftests.test.ts',
  budgetS: 900,
  async prepare() {
    const { dir, modules } = await selftestModules();
    const scripts = selftestScripts();
    const files = Object.fromEntries(['functions.sh', 'settings', ...scripts].filter((f) => existsSync(join(selftestsDir(), f))).map((f) => [f, join(selftestsDir(), f)]));
    return {
      kos: modules.map((m) => join(dir, `${m}.ko`)),
      files,
      cases: [{ id: 'kallsyms', steps: ['@kallsyms-digest'] }, ...scripts.map((s) => ({ id: s, steps: [`@selftest ${s} ${SCRIPT_TIMEOUT_S}`] }))],
      data: { modulesDir: dir, scripts },
    };
  },
};

export interface SelftestTest {
  name: string;
  ok: boolean;
  /** The test's kernel log as check_result() of functions.sh filters it: lines with 'livepatch:' or 'test_klp'. */
  log: string[];
}

export interface SelftestScript {
  script: string;
  /** Its exit status (4: kselftest's skip; 124 or 137: killed at the limit); null when the guest reported none. */
  exit: number | null;
  timedOut: boolean;
  tests: SelftestTest[];
  /** The script's stdout and stderr. */
  output: string;
}

/** Each script's verdicts from the batch's result: its 'TEST: <name> ... ok' lines and each test's kernel log. */
export function selftestReport(result: BatchResult<{ scripts: string[] }>): SelftestScript[] {
  return result.data.scripts.map((script) => {
    const lines = result.cases.get(script) ?? [];
    const run = caseCommands(lines)[0];
    const tests: SelftestTest[] = [];
    for (const l of run?.out ?? []) {
      // "TEST: <name> ... ok"; a test that died before its check_result has the ERROR: text after the dots.
      const m = /^TEST: (.*?) \.\.\. ?(.*)$/.exec(l);
      if (m) tests.push({ name: m[1]!, ok: m[2] === 'ok', log: [] });
    }
    let test: SelftestTest | undefined;
    let nth = 0;
    for (const l of lines) {
      if (l.kind !== 'kernel') continue;
      const start = /^===== TEST: (.*) =====$/.exec(l.text);
      if (start) {
        test = tests[nth++];
        if (!test || test.name !== start[1]) tests.splice(nth - 1, 0, (test = { name: start[1]!, ok: false, log: [] }));
      } else if (test && /livepatch:|test_klp/.test(l.text)) test.log.push(l.text);
    }
    const exit = run && run.rc >= 0 ? run.rc : null;
    return { script, exit, timedOut: exit === 124 || exit === 137, tests, output: (run?.out ?? ['(not run)']).join('\n') };
  });
}
