import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { KlpError } from '@klp-split/core';
import { elfConstants as C, readElf, type ElfFile, type Kallsyms } from '@klp-split/kernel-facts';

/**
 * The binary of one object of the running kernel, as livepatch sees it:
 * its symbols in kallsyms order (the order klp_find_object_symbol() counts
 * old_sympos in), and for a function, what its machine code refers to and
 * whether it starts with the `call __fentry__` ftrace needs. vmlinux is its
 * kallsyms dump plus the code decompressed from vmlinuz; a module is the
 * distribution's .ko (symbols, relocations, code).
 */

export interface CodeSymbol {
  name: string;
  /** Position in the object's symbol list (kallsyms order). */
  index: number;
  kind: 'text' | 'data';
  global: boolean;
  address: bigint;
  size: number;
}

export interface ObjectCode {
  object: string;
  /** Where the facts come from, for messages. */
  source: string;
  symbols: readonly CodeSymbol[];
  /** The symbols of a name in kallsyms order: old_sympos n is element n-1. */
  occurrences(name: string): CodeSymbol[];
  /** The symbols the code of a function refers to (calls, jumps, addresses taken). */
  references(fn: CodeSymbol): Set<CodeSymbol>;
  /** The function begins with a call to __fentry__ (ftrace, hence livepatch, can redirect it). */
  traceable(fn: CodeSymbol): boolean;
  /** Some data of the object holds the function's address (an ops table, a callback). */
  addressInData(fn: CodeSymbol): boolean;
}

const TEXT_TYPES = new Set(['t', 'T', 'w', 'W']);
const DATA_TYPES = new Set(['d', 'D', 'b', 'B', 'r', 'R', 'v', 'V', 'g', 'G', 's', 'S']);

function objdump(args: string[]): string {
  const r = spawnSync('objdump', args, { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new KlpError(`objdump ${args.join(' ')} failed: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}`, { code: 'objdump-failed', hint: 'install binutils' });
  return r.stdout;
}

/** A kernel text or data address in an instruction's operands. */
const ADDRESS = /(?:\b0x|\b)(ffffffff[0-9a-f]{8})\b/g;

/** Instruction lines of objdump -d: address and the rest. */
const INSN = /^\s*([0-9a-f]+):\s+(.*)$/;

/** vmlinux: kallsyms names the addresses of the code decompressed from vmlinuz. */
export class VmlinuxCode implements ObjectCode {
  readonly object = 'vmlinux';
  readonly symbols: CodeSymbol[];
  readonly #byName = new Map<string, CodeSymbol[]>();
  readonly #textByAddress = new Map<bigint, CodeSymbol>();
  readonly #sorted: CodeSymbol[];
  #data?: Buffer[];
  readonly #refs = new Map<CodeSymbol, Set<CodeSymbol>>();
  readonly #firstInsns = new Map<CodeSymbol, string[]>();

  constructor(
    kallsyms: Kallsyms,
    readonly vmlinuxElf: string,
    readonly source = kallsyms.file,
  ) {
    const all = kallsyms.symbolsOf('vmlinux');
    this.symbols = [];
    for (const s of all) {
      const kind = TEXT_TYPES.has(s.type) ? 'text' : DATA_TYPES.has(s.type) ? 'data' : undefined;
      if (!kind) continue;
      this.symbols.push({ name: s.name, index: this.symbols.length, kind, global: s.type === s.type.toUpperCase(), address: s.address, size: 0 });
    }
    // A kallsyms dump lists vmlinux in address order already; sort only when it does not.
    const ordered = this.symbols.every((s, i) => i === 0 || this.symbols[i - 1]!.address <= s.address);
    this.#sorted = ordered ? [...this.symbols] : [...this.symbols].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.index - b.index));
    for (let i = 0; i < this.#sorted.length; i++) {
      const s = this.#sorted[i]!;
      let j = i + 1;
      while (j < this.#sorted.length && this.#sorted[j]!.address === s.address) j++;
      const next = this.#sorted[j];
      s.size = next ? Number(next.address - s.address) : 0;
    }
    for (const s of this.symbols) {
      const list = this.#byName.get(s.name) ?? [];
      list.push(s);
      this.#byName.set(s.name, list);
      if (s.kind === 'text' && !this.#textByAddress.has(s.address)) this.#textByAddress.set(s.address, s);
    }
  }

  occurrences(name: string): CodeSymbol[] {
    return this.#byName.get(name) ?? [];
  }

  /** The symbol an address falls in (the last one starting at or before it). */
  #containing(addr: bigint): CodeSymbol | undefined {
    let lo = 0;
    let hi = this.#sorted.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#sorted[mid]!.address <= addr) lo = mid;
      else hi = mid - 1;
    }
    const s = this.#sorted[lo];
    return s && s.address <= addr && addr < s.address + BigInt(Math.max(s.size, 1)) ? s : undefined;
  }

  #disassemble(fn: CodeSymbol): string[] {
    const stop = fn.address + BigInt(Math.max(fn.size, 1));
    const out = objdump(['-d', '--no-show-raw-insn', `--start-address=0x${fn.address.toString(16)}`, `--stop-address=0x${stop.toString(16)}`, this.vmlinuxElf]);
    return out.split('\n').filter((l) => INSN.test(l));
  }

  references(fn: CodeSymbol): Set<CodeSymbol> {
    const known = this.#refs.get(fn);
    if (known) return known;
    const refs = new Set<CodeSymbol>();
    const lines = this.#disassemble(fn);
    this.#firstInsns.set(fn, lines.slice(0, 2).map((l) => INSN.exec(l)![2]!));
    for (const line of lines) {
      const insn = INSN.exec(line)![2]!;
      // A stripped vmlinux prints `call 0xffffffff8...`, one with symbols `call ffffffff8... <name>`.
      for (const m of insn.matchAll(ADDRESS)) {
        const addr = BigInt(`0x${m[1]}`);
        const target = this.#textByAddress.get(addr) ?? this.#containing(addr);
        if (target && target !== fn) refs.add(target);
      }
    }
    this.#refs.set(fn, refs);
    return refs;
  }

  traceable(fn: CodeSymbol): boolean {
    if (!this.#firstInsns.has(fn)) this.references(fn);
    const fentry = this.occurrences('__fentry__')[0];
    if (!fentry) return false;
    return (this.#firstInsns.get(fn) ?? []).some((i) => /^call\s/.test(i) && [...i.matchAll(ADDRESS)].some((m) => BigInt(`0x${m[1]}`) === fentry.address));
  }

  addressInData(fn: CodeSymbol): boolean {
    const needle = Buffer.alloc(8);
    needle.writeBigUInt64LE(fn.address);
    return this.#dataSections().some((d) => d.indexOf(needle) >= 0);
  }

  /** The contents of the decompressed vmlinux's allocated, non-executable sections, read once. */
  #dataSections(): Buffer[] {
    if (this.#data) return this.#data;
    const fd = openSync(this.vmlinuxElf, 'r');
    try {
      const read = (at: number, size: number): Buffer => {
        const b = Buffer.alloc(size);
        readSync(fd, b, 0, size, at);
        return b;
      };
      const eh = read(0, 64);
      const shoff = Number(eh.readBigUInt64LE(40));
      const shnum = eh.readUInt16LE(60);
      const sh = read(shoff, shnum * 64);
      this.#data = [];
      for (let i = 0; i < shnum; i++) {
        const o = i * 64;
        const type = sh.readUInt32LE(o + 4);
        const flags = Number(sh.readBigUInt64LE(o + 8));
        if (type === C.SHT_NOBITS || !(flags & C.SHF_ALLOC) || flags & C.SHF_EXECINSTR) continue;
        this.#data.push(read(Number(sh.readBigUInt64LE(o + 24)), Number(sh.readBigUInt64LE(o + 32))));
      }
    } finally {
      closeSync(fd);
    }
    return this.#data;
  }
}

/** A module: the distribution's .ko, its symbol table in order and its relocations. */
export class ModuleCode implements ObjectCode {
  readonly symbols: CodeSymbol[];
  readonly #byName = new Map<string, CodeSymbol[]>();
  readonly #elfSym = new Map<CodeSymbol, { shndx: number; value: number }>();
  #blocks?: Map<string, string[]>;
  readonly #elf: ElfFile;

  constructor(
    readonly object: string,
    readonly source: string,
    bytes: Buffer,
  ) {
    this.#elf = readElf(bytes, source);
    this.symbols = [];
    for (const s of this.#elf.symbols) {
      if (!s.name || s.shndx === C.SHN_UNDEF || s.shndx >= C.SHN_LORESERVE || s.type === C.STT_SECTION || s.type === C.STT_FILE) continue;
      const sec = this.#elf.sections[s.shndx];
      const kind = s.type === C.STT_FUNC ? 'text' : 'data';
      if (!sec) continue;
      const cs: CodeSymbol = { name: s.name, index: this.symbols.length, kind, global: s.bind !== C.STB_LOCAL, address: BigInt(s.value), size: s.size };
      this.symbols.push(cs);
      this.#elfSym.set(cs, { shndx: s.shndx, value: s.value });
      const list = this.#byName.get(s.name) ?? [];
      list.push(cs);
      this.#byName.set(s.name, list);
    }
  }

  occurrences(name: string): CodeSymbol[] {
    return this.#byName.get(name) ?? [];
  }

  /** objdump -dr of the whole module, split by function. */
  #functionBlocks(): Map<string, string[]> {
    if (this.#blocks) return this.#blocks;
    const blocks = new Map<string, string[]>();
    let current: string[] | undefined;
    for (const line of objdump(['-dr', '--no-show-raw-insn', this.source]).split('\n')) {
      const head = /^[0-9a-f]+ <(.+)>:$/.exec(line);
      if (head) {
        current = [];
        if (!blocks.has(head[1]!)) blocks.set(head[1]!, current);
        continue;
      }
      if (current && line.trim()) current.push(line);
    }
    this.#blocks = blocks;
    return blocks;
  }

  /** The symbol a relocation's target names: a symbol, or a section plus an offset. */
  #target(name: string, addend: number, pcRelative: boolean): CodeSymbol | undefined {
    const named = this.occurrences(name);
    if (named.length === 1) return named[0];
    const sec = this.#elf.sections.find((s) => s.name === name);
    if (!sec) return named[0];
    const offset = addend + (pcRelative ? 4 : 0);
    let best: CodeSymbol | undefined;
    for (const [cs, e] of this.#elfSym) {
      if (e.shndx !== sec.index) continue;
      if (e.value === offset) return cs;
      if (e.value <= offset && offset < e.value + cs.size) best = cs;
    }
    return best;
  }

  references(fn: CodeSymbol): Set<CodeSymbol> {
    const refs = new Set<CodeSymbol>();
    const lines = this.#functionBlocks().get(fn.name) ?? [];
    for (let k = 0; k < lines.length; k++) {
      const line = lines[k]!;
      const rel = /^\s+[0-9a-f]+: (R_X86_64_\w+)\s+([^\s+-]+)([+-]0x[0-9a-f]+)?$/.exec(line);
      if (rel) {
        const addend = rel[3] ? Number.parseInt(rel[3].replace('0x', ''), 16) * (rel[3].startsWith('-') ? -1 : 1) : 0;
        const pc = /PC32|PLT32/.test(rel[1]!);
        const t = this.#target(rel[2]!, addend, pc);
        if (t && t !== fn) refs.add(t);
        continue;
      }
      // A branch the assembler resolved inside the section: `call 2a0 <put_binfmt_handler>`.
      const insn = INSN.exec(line);
      const next = lines[k + 1] ?? '';
      if (!insn || /R_X86_64_/.test(next)) continue;
      for (const m of insn[2]!.matchAll(/<([^>+]+)>/g)) {
        const t = this.occurrences(m[1]!)[0];
        if (t && t !== fn) refs.add(t);
      }
    }
    return refs;
  }

  traceable(fn: CodeSymbol): boolean {
    const lines = this.#functionBlocks().get(fn.name) ?? [];
    return lines.slice(0, 4).some((l) => /R_X86_64_PLT32\s+__fentry__/.test(l));
  }

  addressInData(fn: CodeSymbol): boolean {
    const e = this.#elfSym.get(fn);
    if (!e) return false;
    for (const r of this.#elf.relocations) {
      if (r.target.flags & C.SHF_EXECINSTR) continue;
      for (const rel of r.relocs) {
        const sym = this.#elf.symbols[rel.symIndex];
        if (!sym) continue;
        if (sym.name === fn.name && sym.shndx === e.shndx) return true;
        if (sym.type === C.STT_SECTION && sym.shndx === e.shndx && Number(rel.addend) === e.value) return true;
      }
    }
    return false;
  }
}
