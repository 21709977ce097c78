import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtSplit, type BuiltSplit } from './built-fixture.js';
import { describeFailure, fuzzSeed, judge, noteCase, summary, type CaseOutcome } from './driver.js';
import { HOSTILE_STRINGS } from './json-mutations.js';
import { fuzzCases, fuzzSeeds, hex, type Rng } from './rng.js';
import { runInProcess, runSubprocess } from './run.js';
import { Sandbox } from './sandbox.js';

/**
 * Fuzzing simulate's scenario files: sequences of the selftests' commands
 * generated from the scenario grammar with valid, unknown and hostile
 * module names, errno values and sysfs paths, then byte-mutated (CRLF, NUL,
 * huge lines, truncation). Run against the real built split and its target.
 * Oracles: the common ones (a bad line is a diagnostic, never a trace).
 */

const CLASS = 'scenarios';
const SEEDS = fuzzSeeds([0x5ce40001, 0x5ce40002]);
const CASES = fuzzCases(5);

const PATCH = 'livepatch_shadow_fix1';
const MODULES = ['livepatch_shadow_mod', 'livepatch-shadow-mod', PATCH, `${PATCH}__livepatch_shadow_mod`, 'nonexistent_mod', 'vmlinux', ''];

function name(rng: Rng): string {
  return rng.chance(0.8) ? rng.pick(MODULES) : rng.pick(HOSTILE_STRINGS).slice(0, 200);
}

function errno(rng: Rng): string {
  return rng.pick(['0', '-19', '-22', '22', '-2147483648', '2147483648', '-99999999999999999999', '1e3', '-', '0x10', 'NaN']);
}

function line(rng: Rng): string {
  const lines: (() => string)[] = [
    () => `modprobe ${name(rng)}${rng.chance(0.3) ? ` ${rng.pick(['x=1', 'pre_patch_ret=-19', '=', 'a=b=c', '"q=1"'])}` : ''}`,
    () => `insmod ${name(rng)}`,
    () => `rmmod ${name(rng)}`,
    () => `echo ${rng.pick(['0', '1', '2', ''])} > /sys/kernel/livepatch/${rng.chance(0.8) ? PATCH : name(rng)}/enabled`,
    () => `@callback ${rng.chance(0.8) ? PATCH : name(rng)} pre_patch=${errno(rng)}`,
    () => `@sleeping ${name(rng)} ${rng.pick(['shadow_leak', 'livepatch_fix1_dummy_alloc', 'x', '1bad'])}`,
    () => `@sysfs /sys/kernel/livepatch/${rng.pick([PATCH, `${PATCH}/enabled`, `${PATCH}/transition`, '../../../etc/passwd', `${PATCH}/livepatch_shadow_mod/patched`])} ${rng.pick(['1', '0', 'absent', '-rw-r--r--', '--w-------', ''])}`,
    () => `@set_ftrace_enabled ${rng.pick(['0', '1', '2'])}`,
    () => `@race ${rng.pick(['rmmod livepatch_shadow_mod', `echo 0 > /sys/kernel/livepatch/${PATCH}/enabled`, '@race rmmod x', ''])}`,
    () => '@posted-guard-defect',
    () => `# ${rng.pick(HOSTILE_STRINGS).slice(0, 100)}`,
    () => rng.pick(HOSTILE_STRINGS).slice(0, 300),
  ];
  return rng.pick(lines)();
}

function scenario(rng: Rng): { text: string; what: string } {
  const lines = Array.from({ length: 1 + rng.int(30) }, () => line(rng));
  let text = `${lines.join('\n')}\n`;
  const steps = [`${lines.length} lines`];
  switch (rng.int(8)) {
    case 0:
      text = text.replace(/\n/g, '\r\n');
      steps.push('CRLF');
      break;
    case 1: {
      const at = rng.int(text.length);
      text = `${text.slice(0, at)}\0${text.slice(at)}`;
      steps.push(`NUL at ${at}`);
      break;
    }
    case 2:
      text = text.slice(0, rng.int(text.length + 1));
      steps.push('truncated');
      break;
    case 3:
      text += `modprobe ${'m'.repeat(200_000)}\n`;
      steps.push('a 200 kB module name');
      break;
    case 4:
      text += `modprobe livepatch_shadow_mod\nrmmod livepatch_shadow_mod\n`.repeat(2_000);
      steps.push('4,000 more lines');
      break;
    case 5:
      text = Buffer.from(text, 'utf8').toString('latin1') + '\xff\xfe';
      steps.push('non-UTF-8 tail');
      break;
    default:
      break;
  }
  return { text, what: `${steps.join(', ')}: ${JSON.stringify(text.slice(0, 200))}` };
}

async function scenarioCase(sandbox: Sandbox, rng: Rng, built: BuiltSplit): Promise<CaseOutcome> {
  const { text, what } = scenario(rng);
  const file = join(sandbox.work, 'steps.txt');
  writeFileSync(file, text, 'latin1');
  const upstream = rng.chance(0.2);
  const args = upstream
    ? ['simulate', '--upstream', '--module', built.target, '--module', join(built.dir, 'livepatch-shadow-fix1.ko'), '--scenario', file]
    : ['simulate', built.dir, '--target', built.target, '--scenario', file, ...(rng.chance(0.3) ? ['--json'] : [])];
  noteCase(sandbox, what);
  const heavy = text.length > 100_000;
  const { violations } = await judge(sandbox, [], () => (heavy ? runSubprocess(args) : runInProcess(args)));
  return { what: `${upstream ? '--upstream ' : ''}${what}${heavy ? ' (in a child process)' : ''}`, violations, commands: [args] };
}

describe('fuzzing simulate scenarios', () => {
  let sandbox: Sandbox;
  let built: BuiltSplit;
  beforeAll(async () => {
    sandbox = new Sandbox(CLASS);
    built = await builtSplit();
  });
  afterAll(() => sandbox?.remove());

  it('runs the unmutated load scenario clean', async () => {
    sandbox.clearWork();
    const file = join(sandbox.work, 'steps.txt');
    writeFileSync(file, `modprobe livepatch_shadow_mod\nmodprobe ${PATCH}\necho 0 > /sys/kernel/livepatch/${PATCH}/enabled\nrmmod ${PATCH}\nrmmod livepatch_shadow_mod\n`);
    const r = await runInProcess(['simulate', built.dir, '--target', built.target, '--scenario', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`livepatch: '${PATCH}': unpatching complete`);
  });

  it.each(SEEDS.map(hex))(`${CASES.length} generated scenarios, seed %s: simulate stays within the oracles`, async (seedText) => {
    const { failures, figures } = await fuzzSeed(CLASS, Number(seedText), CASES, sandbox, (rng) => scenarioCase(sandbox, rng, built));
    console.log(summary(figures));
    expect(failures.slice(0, 15).map((f) => describeFailure(CLASS, f))).toEqual([]);
  });
});
