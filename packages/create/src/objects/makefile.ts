import type { KernelConfig } from '../model/conditions.js';

/**
 * A kbuild Makefile (or Kbuild file) read the way kbuild reads the lines
 * that decide objects: `obj-y`, `obj-m`, `obj-$(CONFIG_X)`, `lib-y`,
 * composites (`<name>-y`, `<name>-objs`, `<name>-$(CONFIG_X)`), with `:=`,
 * `=`, `+=` and `?=` in order, `$(CONFIG_X)` replaced by the configuration's
 * value, and `ifdef`/`ifndef`/`ifeq`/`ifneq` blocks on CONFIG symbols
 * evaluated. A block whose condition it cannot evaluate makes every
 * variable assigned inside it uncertain, and an uncertain answer is never
 * used as a certain one.
 */

export interface MakefileVars {
  /** Words of each variable, with the names already evaluated (`obj-y`, `zram-y`). */
  values: Map<string, string[]>;
  /** `<variable> <word>` pairs assigned under a condition that could not be evaluated. */
  uncertain: Set<string>;
}

/** Variables every kbuild Makefile of an x86-64 build sees. */
const PREDEFINED: Record<string, string> = { SRCARCH: 'x86', ARCH: 'x86', BITS: '64', 'UTS_MACHINE': 'x86_64' };

function expand(text: string, config: KernelConfig, vars: Map<string, string[]>): { text: string; unknown: boolean } {
  let unknown = false;
  const out = text.replace(/\$\(([A-Za-z0-9_]+)\)|\$\{([A-Za-z0-9_]+)\}/g, (_m, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!;
    if (name.startsWith('CONFIG_')) return config.value(name) ?? '';
    if (name in PREDEFINED) return PREDEFINED[name]!;
    const v = vars.get(name);
    if (v) return v.join(' ');
    unknown = true;
    return '';
  });
  // Function calls such as $(call cc-option,...) or $(if ...) are beyond this reader.
  if (/\$\(/.test(out)) unknown = true;
  return { text: out, unknown };
}

/** `ifeq ($(CONFIG_X),y)` and friends: true, false, or undefined. */
function evalMakeCondition(line: string, config: KernelConfig, vars: Map<string, string[]>): boolean | undefined {
  const m = /^(ifdef|ifndef|ifeq|ifneq)\s+(.*)$/.exec(line.trim());
  if (!m) return undefined;
  if (m[1] === 'ifdef' || m[1] === 'ifndef') {
    const name = m[2]!.trim();
    if (!name.startsWith('CONFIG_')) return undefined;
    const set = (config.value(name) ?? '') !== '';
    return m[1] === 'ifdef' ? set : !set;
  }
  const args = /^\(\s*([^,]*?)\s*,\s*([^)]*?)\s*\)$/.exec(m[2]!.trim()) ?? /^["']([^"']*)["']\s+["']([^"']*)["']$/.exec(m[2]!.trim());
  if (!args) return undefined;
  const a = expand(args[1]!, config, vars);
  const b = expand(args[2]!, config, vars);
  if (a.unknown || b.unknown) return undefined;
  const equal = a.text.trim() === b.text.trim();
  return m[1] === 'ifeq' ? equal : !equal;
}

export function readMakefile(text: string, config: KernelConfig): MakefileVars {
  const values = new Map<string, string[]>();
  const uncertain = new Set<string>();
  const lines = text.replace(/\\\r?\n/g, ' ').split('\n');
  // The stack of conditions: each frame is true, false or undefined for its current branch.
  const stack: (boolean | undefined)[] = [];
  const live = (): boolean | undefined => (stack.includes(false) ? false : stack.includes(undefined) ? undefined : true);
  for (const raw of lines) {
    const line = raw.replace(/(^|[^\\])#.*$/, '$1').trim();
    if (!line) continue;
    if (/^(ifdef|ifndef|ifeq|ifneq)\b/.test(line)) {
      stack.push(evalMakeCondition(line, config, values));
      continue;
    }
    if (/^else\b/.test(line)) {
      const top = stack.pop();
      const rest = line.slice(4).trim();
      if (rest) stack.push(top === true ? false : top === false ? evalMakeCondition(rest, config, values) : undefined);
      else stack.push(top === undefined ? undefined : !top);
      continue;
    }
    if (/^endif\b/.test(line)) {
      stack.pop();
      continue;
    }
    const m = /^([A-Za-z0-9_.$(){}-]+)\s*(\+=|:=|\?=|=)\s*(.*)$/.exec(line);
    if (!m) continue;
    const state = live();
    if (state === false) continue;
    const name = expand(m[1]!, config, values);
    if (name.unknown) continue;
    const value = expand(m[3]!, config, values);
    const words = value.text.split(/\s+/).filter(Boolean);
    const prev = values.get(name.text) ?? [];
    if (m[2] === '+=') values.set(name.text, [...prev, ...words]);
    else if (m[2] === '?=') values.set(name.text, prev.length ? prev : words);
    else values.set(name.text, words);
    if (state === undefined) for (const w of words) uncertain.add(`${name.text} ${w}`);
  }
  return { values, uncertain };
}
