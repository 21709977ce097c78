/** Tool errors: the command before them failed. */
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
