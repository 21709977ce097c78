/**
 * The kernel configuration (`.config`) and what it says about the simple
 * preprocessor conditions kernel sources put around definitions:
 * `#ifdef CONFIG_X`, `#ifndef`, `#if defined(CONFIG_X)`, `IS_ENABLED()`,
 * `IS_BUILTIN()`, `IS_MODULE()`, `IS_REACHABLE()`, `!`, `&&`, `||`, `0`, `1`.
 * Anything else is unknown, and an unknown condition is never guessed.
 */

export type Tristate = 'y' | 'm' | undefined;

export class KernelConfig {
  readonly #values = new Map<string, string>();

  constructor(
    readonly file: string,
    text: string,
  ) {
    for (const line of text.split('\n')) {
      const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
      if (m) this.#values.set(m[1]!, m[2]!);
    }
  }

  /** y, m, or undefined (not set, or a non-tristate value). */
  tristate(name: string): Tristate {
    const v = this.#values.get(name);
    return v === 'y' || v === 'm' ? v : undefined;
  }

  /** The raw value (`"foo"`, `42`, `y`), undefined when not set. */
  value(name: string): string | undefined {
    return this.#values.get(name);
  }
}

/** true, false, or undefined when the expression is beyond the simple forms. */
export function evalCondition(expr: string, config: KernelConfig, moduleBuild = false): boolean | undefined {
  const tokens = expr
    .replace(/\/\*.*?\*\//g, ' ')
    .replace(/\/\/.*$/, '')
    .match(/defined|IS_ENABLED|IS_BUILTIN|IS_MODULE|IS_REACHABLE|MODULE|CONFIG_\w+|\w+|&&|\|\||[!()]/g);
  if (!tokens) return undefined;
  let k = 0;
  const peek = (): string | undefined => tokens[k];
  const next = (): string | undefined => tokens[k++];
  const fail = Symbol('unknown');
  type V = boolean | typeof fail;
  const primary = (): V => {
    const t = next();
    if (t === '!') {
      const v = primary();
      return v === fail ? fail : !v;
    }
    if (t === '(') {
      const v = or();
      return next() === ')' ? v : fail;
    }
    if (t === 'defined' || t === 'IS_ENABLED' || t === 'IS_BUILTIN' || t === 'IS_MODULE' || t === 'IS_REACHABLE') {
      const paren = peek() === '(';
      if (paren) next();
      const name = next();
      if (paren && next() !== ')') return fail;
      if (!name) return fail;
      if (name === 'MODULE') return t === 'defined' ? moduleBuild : fail;
      if (!name.startsWith('CONFIG_')) return fail;
      // `defined(CONFIG_X)` holds for y only: kbuild defines CONFIG_X_MODULE for m.
      if (name.endsWith('_MODULE') && t === 'defined') return config.tristate(name.slice(0, -7)) === 'm';
      const v = config.tristate(name);
      if (t === 'IS_BUILTIN' || t === 'defined') return v === 'y';
      if (t === 'IS_MODULE') return v === 'm';
      if (t === 'IS_REACHABLE') return v === 'y' || (v === 'm' && moduleBuild);
      return v !== undefined;
    }
    if (t === '0') return false;
    if (t === '1') return true;
    return fail;
  };
  const and = (): V => {
    let v = primary();
    while (peek() === '&&') {
      next();
      const r = primary();
      v = v === false || r === false ? false : v === fail || r === fail ? fail : true;
    }
    return v;
  };
  const or = (): V => {
    let v = and();
    while (peek() === '||') {
      next();
      const r = and();
      v = v === true || r === true ? true : v === fail || r === fail ? fail : false;
    }
    return v;
  };
  const v = or();
  return v === fail || k !== tokens.length ? undefined : v;
}

/** One `#if`/`#ifdef`/`#ifndef`/`#elif` line as an expression (`#ifdef X` is `defined(X)`). */
export function directiveCondition(line: string): string | undefined {
  const m = /^#\s*(ifdef|ifndef|if|elif)\b\s*(.*)$/.exec(line.trim());
  if (!m) return undefined;
  if (m[1] === 'ifdef') return `defined(${m[2]!.trim()})`;
  if (m[1] === 'ifndef') return `!defined(${m[2]!.trim()})`;
  return m[2]!.trim();
}
