import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { samples } from '../helpers/env.js';
import { copyBuilt, type BuiltSplit } from './built-fixture.js';
import type { CaseOutcome } from './driver.js';
import { judge, noteCase } from './driver.js';
import { mutateJson, notJson } from './json-mutations.js';
import type { Violation } from './oracles.js';
import type { Rng } from './rng.js';
import { runInProcess, runSubprocess } from './run.js';
import type { Sandbox } from './sandbox.js';

/**
 * One case of the manifest and build-record classes: a copy of the built
 * split with one data file mutated, then verify, simulate or a re-split
 * reading it. Besides the common oracles: a file that is not JSON is an
 * input error (exit 2) that names the file, and a manifest listing a module
 * twice is never verified OK.
 */
export async function dataFileCase(sandbox: Sandbox, rng: Rng, built: BuiltSplit, file: 'klp-split.json' | '.klp-split/build.json'): Promise<CaseOutcome> {
  const out = copyBuilt(built, join(sandbox.work, 'out'));
  const path = join(out, file);
  const { text, what } = mutateJson(rng, JSON.parse(readFileSync(path, 'utf8')));
  writeFileSync(path, text);
  const command = rng.pick(file === 'klp-split.json' ? ['verify', 'verify', 'simulate', 'split'] : ['verify', 'verify', 'simulate']);
  const args =
    command === 'verify'
      ? ['verify', out, '--target', built.target, ...(rng.chance(0.5) ? ['--no-explore'] : []), ...(rng.chance(0.3) ? ['--format', rng.pick(['json', 'sarif', 'junit'])] : [])]
      : command === 'simulate'
        ? ['simulate', out, '--target', built.target, '--explore']
        : ['split', samples('livepatch-shadow-fix1.c'), '--out', out, '--all-includes'];
  noteCase(sandbox, `${file} ${what}; ${args.join(' ')}`);
  // A big input may take the memory of the process that reads it: that one runs in a child, bounded.
  const heavy = text.length > 100_000;
  const { r, violations } = await judge(sandbox, command === 'split' ? [out] : [], () => (heavy ? runSubprocess(args) : runInProcess(args)));
  const base = file.replace(/^.*\//, '');
  if (notJson(text) && command !== 'split' && !violations.some((v) => v.kind === 'internal-error')) {
    if (r.code !== 2) violations.push({ kind: 'exit-code', detail: `${base} is not JSON: exit ${r.code}, not 2 (input error)` });
    else if (!`${r.stdout}${r.stderr}`.includes(base)) violations.push({ kind: 'content', detail: `${base} is not JSON and the diagnostic does not name it` });
  }
  violations.push(...duplicateParts(text, command, r.code));
  return { what: `${file} ${what}; ${command}${heavy ? ' (in a child process)' : ''}`, violations, commands: [args] };
}

function duplicateParts(text: string, command: string, code: number | undefined): Violation[] {
  if (command === 'split' || code !== 0) return [];
  try {
    const m = JSON.parse(text) as { parts?: { module?: unknown }[] };
    const modules = (m.parts ?? []).map((p) => p?.module).filter((x) => typeof x === 'string');
    if (new Set(modules).size < modules.length) return [{ kind: 'content', detail: `the manifest lists a module twice and ${command} said OK (exit 0)` }];
  } catch {
    // not JSON: judged above
  }
  return [];
}
