import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elfSampleSources } from '../../../../test/helpers/corpus.js';
import { buildCorpusModules, removeDir } from '../../../../test/helpers/env.js';
import { loadModuleImage } from '../image/module-image.js';
import { elfConstants as C, readModinfo, readThisModuleName, readVersions, ElfError, readElf, type ElfFile } from '@klp-split/kernel-facts';

/**
 * Seeded mutation fuzzing of the ELF reader on real kernel modules: every
 * call must return or throw ElfError, and a successful parse never holds more
 * entries than the file has room for (so no loop over them can run away).
 * A failure names the seed and case; rerun it alone, or try others, with FUZZ_SEED=<seed>[,<seed>...].
 */

const SOURCES = elfSampleSources();

const SEEDS = process.env.FUZZ_SEED ? process.env.FUZZ_SEED.split(',').map(Number) : [0x6b6c7001, 0x5eed0002, 0xdecafbad, 0x00c0ffee];
const CASES_PER_SEED = 1500;

/** mulberry32: a tiny, well-mixed 32-bit PRNG, reproducible across runs and platforms. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  u32(): number {
    return this.int(0x100000000);
  }
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}

interface Original {
  name: string;
  buf: Buffer;
  elf: ElfFile;
}

type Width = 2 | 4 | 8;

function write(buf: Buffer, off: number, width: Width, v: bigint): void {
  if (off < 0 || off + width > buf.length) return;
  const mask = (1n << BigInt(width * 8)) - 1n;
  const x = v & mask;
  if (width === 2) buf.writeUInt16LE(Number(x), off);
  else if (width === 4) buf.writeUInt32LE(Number(x), off);
  else buf.writeBigUInt64LE(x, off);
}

/** Values that tend to break readers: zeros, all-ones, sign and precision edges, near the file size and counts. */
function interesting(rng: Rng, width: Width, o: Original): bigint {
  const max = (1n << BigInt(width * 8)) - 1n;
  const len = BigInt(o.buf.length);
  const shnum = BigInt(o.elf.sections.length);
  const choices: bigint[] = [
    0n, 1n, 2n, 24n, 63n, 64n, max, max - 1n, max >> 1n, (max >> 1n) + 1n,
    0xffffn, 0xff00n, 0xfff1n, 0xff20n, 0xfffen, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n,
    1n << 53n, (1n << 53n) - 1n, (1n << 53n) + 1n, 1n << 63n,
    len, len - 1n, len + 1n, len - 64n, len - 24n, len * 2n,
    shnum, shnum - 1n, shnum + 1n,
    BigInt(rng.int(64)), BigInt(rng.int(o.buf.length)), rng.u64(),
  ];
  return rng.pick(choices) & max;
}

/** One mutation of a copy of a real module; returns what it did, for the failure message. */
function mutate(rng: Rng, o: Original, buf: Buffer): { buf: Buffer; what: string } {
  const { elf } = o;
  const shoff = elf.header.shoff;
  const section = rng.int(elf.sections.length);
  const sh = shoff + section * C.SHDR_SIZE;
  const symtab = elf.sections.find((s) => s.type === C.SHT_SYMTAB)!;
  const relas = elf.relocations.map((r) => r.section);
  const hot = (): number => {
    // Bias offsets towards the structures the reader walks.
    switch (rng.int(7)) {
      case 0:
        return rng.int(C.EHDR_SIZE);
      case 1:
        return shoff + rng.int(elf.sections.length * C.SHDR_SIZE);
      case 2:
        return symtab.offset + rng.int(symtab.size);
      case 3: {
        const r = rng.pick(relas);
        return r.offset + rng.int(r.size);
      }
      case 4: {
        const s = rng.pick(elf.sections.filter((x) => ['.modinfo', '__versions', '.gnu.linkonce.this_module', '.strtab', '.shstrtab'].includes(x.name)));
        return s.offset + rng.int(Math.max(1, s.size));
      }
      default:
        return rng.int(buf.length);
    }
  };
  switch (rng.int(13)) {
    case 0: {
      const n = 1 + rng.int(8);
      const at: number[] = [];
      for (let i = 0; i < n; i++) {
        const off = hot();
        if (off < buf.length) buf[off]! ^= 1 << rng.int(8);
        at.push(off);
      }
      return { buf, what: `bit flips at ${at.join(',')}` };
    }
    case 1: {
      const off = hot();
      const n = 1 + rng.int(16);
      for (let i = 0; i < n && off + i < buf.length; i++) buf[off + i] = rng.int(256);
      return { buf, what: `${n} random bytes at ${off}` };
    }
    case 2: {
      // Truncate: anywhere, or inside the header, or inside the section header table.
      const len = rng.pick([rng.int(buf.length), rng.int(C.EHDR_SIZE + 1), shoff + rng.int(elf.sections.length * C.SHDR_SIZE)]);
      return { buf: buf.subarray(0, len), what: `truncated to ${len} bytes` };
    }
    case 3: {
      const [field, off, width] = rng.pick<[string, number, Width]>([
        ['e_shoff', 40, 8],
        ['e_shnum', 60, 2],
        ['e_shstrndx', 62, 2],
        ['e_shentsize', 58, 2],
      ]);
      const v = interesting(rng, width, o);
      write(buf, off, width, v);
      return { buf, what: `${field} = ${v}` };
    }
    case 4:
    case 5:
    case 6: {
      const [field, rel, width] = rng.pick<[string, number, Width]>([
        ['sh_name', 0, 4],
        ['sh_type', 4, 4],
        ['sh_offset', 24, 8],
        ['sh_offset', 24, 8],
        ['sh_size', 32, 8],
        ['sh_size', 32, 8],
        ['sh_link', 40, 4],
        ['sh_info', 44, 4],
        ['sh_entsize', 56, 8],
      ]);
      const v = field === 'sh_type' ? rng.pick([0n, 1n, 2n, 3n, 4n, 8n, 9n, 18n, BigInt(rng.u32())]) : interesting(rng, width, o);
      write(buf, sh + rel, width, v);
      return { buf, what: `section ${section} ${field} = ${v}` };
    }
    case 7:
    case 8: {
      const sym = rng.int(symtab.size / C.SYM_SIZE);
      const at = symtab.offset + sym * C.SYM_SIZE;
      const [field, rel, width] = rng.pick<[string, number, Width]>([
        ['st_shndx', 6, 2],
        ['st_shndx', 6, 2],
        ['st_name', 0, 4],
        ['st_value', 8, 8],
        ['st_size', 16, 8],
      ]);
      const v = interesting(rng, width, o);
      write(buf, at + rel, width, v);
      return { buf, what: `symbol ${sym} ${field} = ${v}` };
    }
    case 9: {
      const r = rng.pick(relas);
      const at = r.offset + rng.int(r.size / C.RELA_SIZE) * C.RELA_SIZE;
      const [field, rel] = rng.pick<[string, number]>([
        ['r_offset', 0],
        ['r_info', 8],
        ['r_addend', 16],
      ]);
      const v = field === 'r_info' ? (interesting(rng, 4, o) << 32n) | BigInt(rng.int(43)) : interesting(rng, 8, o);
      write(buf, at + rel, 8, v);
      return { buf, what: `relocation at file offset ${at} ${field} = ${v}` };
    }
    case 10: {
      // Point one section at another's bytes (overlaps, duplicate tables).
      const other = elf.sections[rng.int(elf.sections.length)]!;
      write(buf, sh + 24, 8, BigInt(other.offset));
      write(buf, sh + 32, 8, BigInt(other.size));
      if (rng.int(2)) write(buf, sh + 4, 4, BigInt(rng.pick([C.SHT_SYMTAB, C.SHT_STRTAB, C.SHT_RELA, C.SHT_SYMTAB_SHNDX, C.SHT_NOBITS])));
      return { buf, what: `section ${section} given the bytes of section ${other.index}` };
    }
    case 11: {
      // Forge a whole section header (section 0 included) whose fields mostly agree
      // with its type, so that the deeper reads run with the forged offset and size.
      const type = rng.pick([C.SHT_SYMTAB, C.SHT_STRTAB, C.SHT_RELA, C.SHT_SYMTAB_SHNDX, C.SHT_NOBITS]);
      const meta = elf.sections.filter((x) => ['.modinfo', '__versions', '.gnu.linkonce.this_module'].includes(x.name)).map((x) => x.index);
      const target = rng.pick([0, section, type === C.SHT_NOBITS ? rng.pick(meta) : section]);
      const at = shoff + target * C.SHDR_SIZE;
      const often = <T>(likely: T, other: () => T): T => (rng.int(5) ? likely : other());
      const unit = type === C.SHT_SYMTAB_SHNDX ? 4n : type === C.SHT_STRTAB || type === C.SHT_NOBITS ? 1n : 24n;
      const size = rng.pick([interesting(rng, 8, o), unit * BigInt(1 + rng.int(512)), unit * BigInt(Math.floor(o.buf.length / Number(unit)))]);
      const offset = rng.pick([interesting(rng, 8, o), BigInt(rng.int(buf.length)), BigInt(buf.length) - size]);
      const link = type === C.SHT_SYMTAB ? BigInt(symtab.link) : type === C.SHT_RELA || type === C.SHT_SYMTAB_SHNDX ? BigInt(symtab.index) : 0n;
      const entsize = type === C.SHT_SYMTAB || type === C.SHT_RELA ? 24n : 0n;
      write(buf, at + 4, 4, BigInt(type));
      write(buf, at + 24, 8, offset);
      write(buf, at + 32, 8, size);
      write(buf, at + 40, 4, often(link, () => interesting(rng, 4, o)));
      write(buf, at + 44, 4, often(BigInt(1 + rng.int(elf.sections.length - 1)), () => interesting(rng, 4, o)));
      write(buf, at + 56, 8, often(entsize, () => interesting(rng, 8, o)));
      // Keep a single symbol table, let string tables be the ones in use, reach SYMTAB_SHNDX.
      if (type === C.SHT_SYMTAB && target !== symtab.index && rng.int(4)) write(buf, shoff + symtab.index * C.SHDR_SIZE + 4, 4, BigInt(C.SHT_PROGBITS));
      if (type === C.SHT_STRTAB && rng.int(2)) write(buf, rng.int(2) ? 62 : shoff + symtab.index * C.SHDR_SIZE + 40, rng.int(2) ? 2 : 4, BigInt(target));
      if (type === C.SHT_SYMTAB_SHNDX || rng.int(4) === 0) write(buf, symtab.offset + rng.int(symtab.size / C.SYM_SIZE) * C.SYM_SIZE + 6, 2, 0xffffn);
      return { buf, what: `section ${target} forged: type ${type} offset ${offset} size ${size}` };
    }
    default: {
      // Several mutations at once.
      const parts: string[] = [];
      let b = buf;
      const n = 2 + rng.int(3);
      for (let i = 0; i < n; i++) {
        const m = mutate(rng, o, b);
        b = m.buf;
        parts.push(m.what);
      }
      return { buf: b, what: parts.join('; ') };
    }
  }
}

/** Every step a module load takes; returns the first non-ElfError exception and whether readElf accepted the file. */
function exercise(buf: Buffer, path: string): { failure?: string; parsed: boolean } {
  const guard = (step: string, fn: () => void): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (e) {
      if (e instanceof ElfError) {
        if (!e.format().startsWith(`${path}: error: invalid ELF: `) || e.detail.length === 0) return `${step}: imprecise ElfError '${e.message}'`;
        return undefined;
      }
      const err = e as Error;
      return `${step} threw ${err?.constructor?.name ?? typeof e}: ${err?.message ?? String(e)}`;
    }
  };
  let elf: ElfFile | undefined;
  const failure =
    guard('readElf', () => {
      elf = readElf(buf, path);
      // Linear bounds on everything later loops walk.
      if (elf.sections.length * C.SHDR_SIZE > buf.length) throw new Error(`${elf.sections.length} sections in ${buf.length} bytes`);
      if (elf.symbols.length * C.SYM_SIZE > buf.length) throw new Error(`${elf.symbols.length} symbols in ${buf.length} bytes`);
      const relocs = elf.relocations.reduce((n, r) => n + r.relocs.length, 0);
      if (relocs * C.RELA_SIZE > buf.length) throw new Error(`${relocs} relocations in ${buf.length} bytes`);
    }) ??
    (elf && guard('readModinfo', () => readModinfo(elf!))) ??
    (elf && guard('readVersions', () => readVersions(elf!))) ??
    (elf && guard('readThisModuleName', () => readThisModuleName(elf!))) ??
    guard('loadModuleImage', () => loadModuleImage(path, buf));
  return { failure, parsed: elf !== undefined };
}

describe('fuzzing the ELF reader with mutated real kernel modules', () => {
  let built: { dir: string; ko: (name: string) => string };
  const originals: Original[] = [];

  beforeAll(async () => {
    built = await buildCorpusModules(SOURCES);
    for (const src of SOURCES) {
      const path = built.ko(src.replace(/^.*\//, ''));
      const buf = readFileSync(path);
      originals.push({ name: path.replace(/^.*\//, ''), buf, elf: readElf(buf, path) });
    }
  });
  afterAll(() => {
    if (built) removeDir(built.dir);
  });

  it('accepts the unmutated modules', () => {
    for (const o of originals) expect(exercise(o.buf, o.name)).toEqual({ failure: undefined, parsed: true });
  });

  it.each(SEEDS.map((s) => `0x${s.toString(16)}`))(`${CASES_PER_SEED} mutations, seed %s: every call returns or throws ElfError`, (seedText) => {
    const seed = Number(seedText);
    const rng = new Rng(seed);
    const failures: string[] = [];
    const outcomes = { parsed: 0, rejected: 0 };
    for (let i = 0; i < CASES_PER_SEED; i++) {
      const o = rng.pick(originals);
      const { buf, what } = mutate(rng, o, Buffer.from(o.buf));
      const { failure, parsed } = exercise(buf, o.name);
      if (failure) failures.push(`seed ${seedText} case ${i} ${o.name} (${what}): ${failure}`);
      if (parsed) outcomes.parsed++;
      else outcomes.rejected++;
    }
    expect(failures.slice(0, 20)).toEqual([]);
    // The mutations exercise both paths: some files still parse, many are rejected.
    expect(outcomes.parsed).toBeGreaterThan(CASES_PER_SEED / 20);
    expect(outcomes.rejected).toBeGreaterThan(CASES_PER_SEED / 20);
  });
});
