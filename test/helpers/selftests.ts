import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
    const content = block.length === 0 ? line.slice('check_result "'.length) : line;
    const closing = content.endsWith('"');
    block.push(closing ? content.slice(0, -1) : content);
    if (closing) {
      out.set(name, block.map((l) => l.replace(/\$\{?(MOD_[A-Z0-9_]+)\}?/g, (_m, v: string) => vars[v] ?? _m)));
      block = undefined;
    }
  }
  return out;
}

/**
 * The lines both the kernel and the simulator print: livepatch core messages,
 * commands, tool errors, and the callbacks' calls in the form the kernel's
 * test livepatches print them (`<patch>: <callback>: <object>[ -> [<module state>]]`;
 * the simulator records them as `[callback]` lines).
 */
export function comparableLines(lines: string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    const sim = /^\[callback\] (\S+): \w+ (\w+)\(\) for object '(vmlinux)'$|^\[callback\] (\S+): \w+ (\w+)\(\) for object '[^']+' \(obj->mod '([^']+)' in (MODULE_STATE_\w+)\)$/.exec(l);
    const printed = /^(\S+): (\w+_callback): (\S+)(?: -> \[(MODULE_STATE_\w+)\].*)?$/.exec(l);
    const call = sim ? (sim[1] ? sim.slice(1, 4) : sim.slice(4, 8)) : printed?.slice(1, 5);
    if (call) out.push(`${call[0]}: ${call[1]}: ${call[2]}${call[3] ? ` -> [${call[3]}]` : ''}`);
    else if (l.startsWith('livepatch: ') || l.startsWith('% ') || /^(modprobe|insmod|rmmod): /.test(l)) out.push(l);
  }
  return out;
}
