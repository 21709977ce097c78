import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { callbackCall } from '../../packages/nx/src/real-kernel/compare.js';
import { corpus } from './env.js';

/** The expected transcripts of a kernel livepatch selftest script, by test name. */
export function selftestExpectations(script: string, vars: Record<string, string>): Map<string, string[]> {
  const text = readFileSync(join(corpus(), 'tools/testing/selftests/livepatch', script), 'utf8');
  const out = new Map<string, string[]>();
  let name = '';
  let block: string[] | undefined;
  for (const line of text.split('\n')) {
    const start = /^start_test "(.*)"$/.exec(line);
    if (start) name = start[1]!;
    if (!block && line.startsWith('check_result "')) block = [];
    if (!block) continue;
    // The block is a double-quoted shell string: \" stands for ".
    const content = (block.length === 0 ? line.slice('check_result "'.length) : line).replace(/\\"/g, '"');
    const closing = content.endsWith('"');
    block.push(closing ? content.slice(0, -1) : content);
    if (closing) {
      out.set(name, block.map((l) => l.replace(/\$\{?(MOD_[A-Z0-9_]+)\}?/g, (_m, v: string) => vars[v] ?? _m)));
      block = undefined;
    }
  }
  return out;
}

/** The lines both the kernel and the simulator print: livepatch core messages, commands, tool errors, callback calls. */
export function comparableLines(lines: string[]): string[] {
  return lines.flatMap((l) => {
    const call = callbackCall(l);
    if (call) return [call];
    return l.startsWith('livepatch: ') || l.startsWith('% ') || /^(modprobe|insmod|rmmod): /.test(l) ? [l] : [];
  });
}

/**
 * A callback call as `<patch>: <callback>: <object>`: in split mode the
 * per-object module (`<patch>__<object>`) makes the call and is obj->mod
 * (docs/split-vs-upstream.md), and vmlinux's obj->mod is the main module
 * itself (docs/split-kernel.md, point 7), so the printing module and
 * obj->mod differ by design.
 */
export function withoutObjMod(line: string): string {
  return line.replace(/^(\w+?)(?:__(\w+))?: (\w+_callback): (\w+)(?: -> \[\w+\])?$/, (_m, patch: string, object: string | undefined, cb: string, target: string) =>
    `${patch}: ${cb}: ${object ?? (target === patch ? 'vmlinux' : target)}`,
  );
}

/** The selftest scripts the simulator replays besides test-callbacks.sh: their modules and check_result variables. */
export const SELFTEST_SUITES: Record<string, { livepatches: string[]; targets: string[]; vars: Record<string, string> }> = {
  'test-livepatch': {
    livepatches: ['test_klp_livepatch', 'test_klp_atomic_replace'],
    targets: [],
    vars: { MOD_LIVEPATCH: 'test_klp_livepatch', MOD_REPLACE: 'test_klp_atomic_replace' },
  },
  'test-state': {
    livepatches: ['test_klp_state', 'test_klp_state2', 'test_klp_state3'],
    targets: [],
    vars: { MOD_LIVEPATCH: 'test_klp_state', MOD_LIVEPATCH2: 'test_klp_state2', MOD_LIVEPATCH3: 'test_klp_state3' },
  },
  'test-sysfs': {
    livepatches: ['test_klp_livepatch', 'test_klp_callbacks_demo'],
    targets: ['test_klp_callbacks_mod'],
    vars: { MOD_LIVEPATCH: 'test_klp_livepatch' },
  },
  'test-ftrace': {
    livepatches: ['test_klp_livepatch'],
    targets: [],
    vars: { MOD_LIVEPATCH: 'test_klp_livepatch' },
  },
  'test-shadow-vars': {
    livepatches: [],
    targets: ['test_klp_shadow_vars'],
    vars: { MOD_TEST: 'test_klp_shadow_vars' },
  },
};
