import { existsSync } from 'node:fs';
import { cacheDir, kallsymsDumpFile, KlpError, readInputText } from '@klp-split/core';

/**
 * The text format of /proc/kallsyms, as printed by kernel/kallsyms.c:
 *
 *   ffffffff81000000 T _text                      (vmlinux: "%px %c %s\n")
 *   ffffffffc0201030 t name\t[livepatch_sample]    (modules: "%px %c %s\t[%s]\n")
 *
 * A dump of a real kernel comes from scripts/qemu-kernel.sh kallsyms.
 *
 * Livepatch resolves a non-exported symbol of an object (vmlinux or a module)
 * by name and `old_sympos` (kernel/livepatch/core.c, klp_find_object_symbol):
 * sympos n > 0 is the n-th occurrence of the name among the object's symbols
 * in kallsyms order (1-based); sympos 0 means the name must be unique in the
 * object. The file order of /proc/kallsyms is that kallsyms order.
 */

/** The object name of symbols printed without `[module]`. */
export const VMLINUX = 'vmlinux';

interface KallsymsSymbol {
  readonly name: string;
  /** The type letter as printed: T/t text, D/d data, B/b bss, R/r rodata, A absolute, W/w weak, ... */
  readonly type: string;
  readonly address: bigint;
  /** `vmlinux`, or the module name from `[module]`. */
  readonly object: string;
  /** 1-based line in the parsed file. */
  readonly line: number;
}

/** A malformed kallsyms dump: `file:line: error: reason [kallsyms-invalid]`. */
export class KallsymsError extends KlpError {
  constructor(
    file: string,
    line: number,
    readonly reason: string,
  ) {
    super(reason, { code: 'kallsyms-invalid', file, line });
    this.name = 'KallsymsError';
  }
}

/** The outcome of livepatch's lookup of (name, sympos) in one object. */
type KlpSymbolLookup =
  | { ok: true; symbol: KallsymsSymbol; count: number }
  | { ok: false; reason: 'not-found' | 'ambiguous' | 'no-such-position'; message: string; count: number };

export class Kallsyms {
  /** Per object, its symbols in file order; objects in order of first appearance. */
  readonly #byObject = new Map<string, KallsymsSymbol[]>();
  /** Per object, per name, the occurrences in file order. */
  readonly #byName = new Map<string, Map<string, KallsymsSymbol[]>>();

  constructor(
    readonly file: string,
    /** All symbols in file order. */
    readonly symbols: readonly KallsymsSymbol[],
  ) {
    for (const s of symbols) {
      let list = this.#byObject.get(s.object);
      let names = this.#byName.get(s.object);
      if (!list || !names) {
        list = [];
        names = new Map();
        this.#byObject.set(s.object, list);
        this.#byName.set(s.object, names);
      }
      list.push(s);
      const same = names.get(s.name);
      if (same) same.push(s);
      else names.set(s.name, [s]);
    }
  }

  /** Object names (`vmlinux` and modules) in order of first appearance. */
  objects(): string[] {
    return [...this.#byObject.keys()];
  }

  /** The symbols of one object in file order (empty when it has none). */
  symbolsOf(object: string = VMLINUX): readonly KallsymsSymbol[] {
    return this.#byObject.get(object) ?? [];
  }

  /** The occurrences of `name` in `object`, in kallsyms order: sympos n is element n-1. */
  occurrences(name: string, object: string = VMLINUX): readonly KallsymsSymbol[] {
    return this.#byName.get(object)?.get(name) ?? [];
  }

  /** How many times `name` occurs in `object`. */
  count(name: string, object: string = VMLINUX): number {
    return this.occurrences(name, object).length;
  }

  /** Whether `object` has a symbol `name`. */
  has(name: string, object: string = VMLINUX): boolean {
    return this.count(name, object) > 0;
  }

  /** Names occurring more than once in `object`, with their counts, in order of first appearance. */
  duplicates(object: string = VMLINUX): Map<string, number> {
    const out = new Map<string, number>();
    for (const [name, list] of this.#byName.get(object) ?? []) if (list.length > 1) out.set(name, list.length);
    return out;
  }

  /**
   * Livepatch's lookup of a symbol by name and old_sympos in one object, with
   * the kernel's outcomes and messages (klp_find_object_symbol): not found;
   * sympos 0 with more than one occurrence (vmlinux printed as "(null)", the
   * kernel passes its NULL name); sympos beyond the last occurrence.
   */
  klpLookup(name: string, sympos: number, object: string = VMLINUX): KlpSymbolLookup {
    if (!Number.isSafeInteger(sympos) || sympos < 0) throw new RangeError(`sympos must be a non-negative integer, got ${sympos}`);
    const all = this.occurrences(name, object);
    // The kernel stops counting at the wanted position (or at the second
    // occurrence for sympos 0), so `count` is what it would have seen.
    if (all.length === 0) return { ok: false, reason: 'not-found', message: `symbol '${name}' not found in symbol table`, count: 0 };
    if (sympos === 0) {
      if (all.length > 1) return { ok: false, reason: 'ambiguous', message: `unresolvable ambiguity for symbol '${name}' in object '${object === VMLINUX ? '(null)' : object}'`, count: 2 };
      return { ok: true, symbol: all[0]!, count: 1 };
    }
    if (sympos > all.length) {
      return { ok: false, reason: 'no-such-position', message: `symbol position ${sympos} for symbol '${name}' in object '${object}' not found`, count: all.length };
    }
    return { ok: true, symbol: all[sympos - 1]!, count: sympos };
  }
}

const HEX = /^[0-9a-fA-F]{1,16}$/;
const TYPE = /^[A-Za-z?]$/;

function show(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text);
}

/** Reads a kallsyms dump file (bounded, regular files only) and parses it. */
export function readKallsyms(path: string): Kallsyms {
  return parseKallsyms(readInputText(path, 'symbols', { what: 'kallsyms dump' }), path);
}

/** Parses /proc/kallsyms text; `file` names it in errors (`file:line: ...`). */
export function parseKallsyms(text: string, file: string): Kallsyms {
  const symbols: KallsymsSymbol[] = [];
  const lines = text.split('\n');
  // A final newline ends the last line; it does not start an empty one.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const n = i + 1;
    const fail = (reason: string): never => {
      throw new KallsymsError(file, n, reason);
    };
    if (line === '') fail('empty line');
    if (line.endsWith('\r')) fail('line ends with a carriage return (CRLF line endings?)');
    // "<address> <type> <name>" then optionally "\t[<module>]".
    const tab = line.indexOf('\t');
    const head = tab < 0 ? line : line.slice(0, tab);
    const tail = tab < 0 ? undefined : line.slice(tab + 1);
    const fields = head.split(' ');
    if (fields.length < 3 || fields.some((f) => f === '')) {
      fail(`expected '<address> <type> <name>' separated by single spaces, got ${show(line)}`);
    }
    if (fields.length > 3) fail(`unexpected text after the symbol name '${fields[2]}': ${show(fields.slice(3).join(' '))}`);
    const [addr, type, name] = fields as [string, string, string];
    if (!HEX.test(addr)) fail(`address ${show(addr)} is not 1 to 16 hexadecimal digits`);
    if (!TYPE.test(type)) fail(`symbol type ${show(type)} is not one letter`);
    let object = VMLINUX;
    if (tail !== undefined) {
      const m = /^\[([^\]\s]+)\]$/.exec(tail);
      if (!m) fail(`expected '[module]' after the tab, got ${show(tail)}`);
      object = m![1]!;
    }
    symbols.push({ name, type, address: BigInt(`0x${addr}`), object, line: n });
  }
  return new Kallsyms(file, symbols);
}

/**
 * The kallsyms dump to use for a kernel release: $KLP_KALLSYMS, else the one
 * scripts/qemu-kernel.sh cached from booting that kernel, if any.
 */
export function defaultKallsymsFile(release: string, cache: string = cacheDir()): string | undefined {
  if (process.env.KLP_KALLSYMS) return process.env.KLP_KALLSYMS;
  const file = kallsymsDumpFile(cache, release);
  return existsSync(file) ? file : undefined;
}
