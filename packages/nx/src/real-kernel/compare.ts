/**
 * The lines the simulator and a real kernel both print for a scenario, in
 * one form, and the side-by-side view of two transcripts.
 */

/**
 * A callback's call as the kernel's test livepatches print it
 * (`<patch>: <callback>: <object>[ -> [<module state>]]`), from either that
 * print or the simulator's `[callback]` record; undefined for other lines.
 */
function callbackCall(line: string): string | undefined {
  const vmlinux = /^\[callback\] (\S+): \w+ (\w+)\(\) for object 'vmlinux'$/.exec(line);
  if (vmlinux) return `${vmlinux[1]}: ${vmlinux[2]}: vmlinux`;
  const module = /^\[callback\] (\S+): \w+ (\w+)\(\) for object '[^']+' \(obj->mod '([^']+)' in (MODULE_STATE_\w+)\)$/.exec(line);
  if (module) return `${module[1]}: ${module[2]}: ${module[3]} -> [${module[4]}]`;
  const printed = /^(\S+): (\w+_callback): (\S+)(?: -> \[(MODULE_STATE_\w+)\].*)?$/.exec(line);
  if (printed) return `${printed[1]}: ${printed[2]}: ${printed[3]}${printed[4] ? ` -> [${printed[4]}]` : ''}`;
  return undefined;
}

/**
 * The loader's own lines about a module (kernel/module/main.c's wording):
 * the simulator models the loader, while a module's own printk (its init,
 * its functions) is outside the model.
 */
const LOADER_LINE = /^\S+: (Unknown symbol \S+ \(err -?\d+\)|gave up waiting for init of module \S+\.|module area exhausted|exports duplicate symbol \S+ \(owned by \S+\))$/;

/**
 * What is compared: commands ('% ...'), the tools' errors, the livepatch
 * core's lines, the loader's lines about the given modules, callback calls
 * 'lsmod' and 'sysfs' lines (@lsmod, @sysfs). Callback calls count when the callback prints its call,
 * as the kernel's test livepatches do (their callbacks are named
 * *_callback); the simulator records every call ('[callback] ...') and
 * those of other callbacks are left out. The simulator's other records
 * ('[request_module] ...') are not compared; the modules' own output goes to
 * `ignored`.
 */
export function comparable(lines: string[], modules: string[]): { lines: string[]; ignored: string[] } {
  const kept: string[] = [];
  const ignored: string[] = [];
  for (const l of lines) {
    const call = callbackCall(l);
    if (call && (!l.startsWith('[') || /^\S+: \w+_callback: /.test(call))) kept.push(call);
    else if (l.startsWith('[sysfs] ')) kept.push(l.slice(1).replace('] ', ' '));
    else if (l.startsWith('[')) continue;
    else if (l.startsWith('% ') || l === 'lsmod' || l.startsWith('lsmod ') || l.startsWith('sysfs ') || l.startsWith('livepatch: ') || /^(modprobe|insmod|rmmod|bash|echo): /.test(l)) kept.push(l);
    else if (LOADER_LINE.test(l)) kept.push(l);
    else if (modules.some((m) => l.startsWith(`${m}: `))) ignored.push(l);
  }
  return { lines: kept, ignored };
}

export type Row = { left?: string; right?: string };

/** The two transcripts aligned on their longest common subsequence: equal lines side by side, the others alone. */
export function align(left: string[], right: string[]): Row[] {
  const n = left.length;
  const m = right.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i]![j] = left[i] === right[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const rows: Row[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && left[i] === right[j]) rows.push({ left: left[i++], right: right[j++] });
    else if (j >= m || (i < n && lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) rows.push({ left: left[i++] });
    else rows.push({ right: right[j++] });
  }
  return rows;
}

/** The rows as two columns; a line only one side printed is marked '<' (left) or '>' (right). */
export function sideBySide(rows: Row[], leftTitle: string, rightTitle: string, width = 64): string[] {
  const cell = (s: string | undefined): string => {
    const t = s ?? '';
    return t.length > width ? `${t.slice(0, width - 1)}…` : t.padEnd(width);
  };
  const out = [`  ${cell(leftTitle)} | ${rightTitle}`, `  ${'-'.repeat(width)} | ${'-'.repeat(Math.min(width, 40))}`];
  for (const r of rows) {
    const mark = r.left !== undefined && r.right !== undefined ? ' ' : r.left !== undefined ? '<' : '>';
    out.push(`${mark} ${cell(r.left)} | ${r.right ?? ''}`.trimEnd());
  }
  return out;
}
