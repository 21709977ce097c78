import { callbackCall } from '../helpers/selftests.js';

/**
 * What both sides of a split differential case must agree on: every line
 * either prints (commands, tool errors, the kernel's livepatch and module
 * lines), callback calls in one format, the simulator's own markers
 * ([request_module], [callback] ...) dropped once translated.
 */
export function comparable(lines: string[]): string[] {
  return lines.flatMap((l) => {
    const call = callbackCall(l);
    if (call) return [call];
    return l.startsWith('[') ? [] : [l];
  });
}

const TOOL_ERROR = /^(modprobe|insmod|rmmod): (ERROR|FATAL)|^echo: write error|: No such file or directory$|^killed: /;

/** Whether each command of a transcript failed: a tool error follows its `% ` line. */
export function failures(lines: string[]): boolean[] {
  const out: boolean[] = [];
  for (const l of lines) {
    if (l.startsWith('% ')) out.push(false);
    else if (TOOL_ERROR.test(l) && out.length) out[out.length - 1] = true;
  }
  return out;
}
