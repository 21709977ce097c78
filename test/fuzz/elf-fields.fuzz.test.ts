import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtRelocSplit, type BuiltSplit } from './built-fixture.js';
import { describeFailure, fuzzSeed, judge, noteCase, summary, type CaseOutcome } from './driver.js';
import type { Violation } from './oracles.js';
import { fuzzCases, fuzzSeeds, hex, type Rng } from './rng.js';
import { runInProcess } from './run.js';
import { Sandbox } from './sandbox.js';
import { recordForgedModule } from '../helpers/forged-module.js';

/**
 * Issue 20: fuzzing the fields the module loader trusts (relocation
 * offsets, types and symbols, section indexes of symbols, section sizes and
 * links) in the modules of a real split with livepatch relocations. Besides
 * the common oracles: a module the kernel would refuse or write out of
 * bounds with (judged here from the raw bytes, independently of the
 * project's reader) must not verify OK nor load in the simulator; and what
 * verify passes, the simulator loads.
 */

const CLASS = 'elf-fields';
const SEEDS = fuzzSeeds([0xe1f00001, 0xe1f00002]);
const CASES = fuzzCases(15);

/** Bytes each relocation type of 6.1's x86-64 __apply_relocate_add() writes; any other type it refuses. */
const LOADER_FIELD: Readonly<Record<number, number>> = { 0: 0, 1: 8, 2: 4, 4: 4, 10: 4, 11: 4, 24: 8 };
const SHF_ALLOC = 2;
const SHN_LIVEPATCH = 0xff20;
const SHN_ABS = 0xfff1;
const SHN_COMMON = 0xfff2;

interface RawSection {
  index: number;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
}

function rawSections(buf: Buffer): RawSection[] {
  const shoff = Number(buf.readBigUInt64LE(40));
  return Array.from({ length: buf.readUInt16LE(60) }, (_, index) => {
    const o = shoff + index * 64;
    return { index, type: buf.readUInt32LE(o + 4), flags: Number(buf.readBigUInt64LE(o + 8)), offset: Number(buf.readBigUInt64LE(o + 24)), size: Number(buf.readBigUInt64LE(o + 32)), link: buf.readUInt32LE(o + 40), info: buf.readUInt32LE(o + 44) };
  });
}

/**
 * Why Linux 6.1's loader would refuse this module or write outside a
 * section while loading it; empty when neither. Read from the raw bytes
 * with nothing of the project's.
 */
function kernelRefusals(buf: Buffer): string[] {
  const secs = rawSections(buf);
  const out: string[] = [];
  for (const s of secs) if (s.type !== 8 && s.type !== 0 && s.offset + s.size > buf.length) out.push(`section ${s.index} lies past the end of the file`);
  if (out.length) return out;
  const symtab = secs.find((s) => s.type === 2);
  if (!symtab) return ['no symbol table'];
  const nsyms = Math.floor(symtab.size / 24);
  for (let i = 1; i < nsyms; i++) {
    const shndx = buf.readUInt16LE(symtab.offset + i * 24 + 6);
    if (shndx === 0 || shndx === SHN_ABS || shndx === SHN_LIVEPATCH) continue;
    if (shndx === SHN_COMMON) out.push(`symbol ${i} is common`);
    else if (shndx >= secs.length) out.push(`symbol ${i} has section index ${shndx} (${secs.length} sections)`);
  }
  for (const s of secs) {
    if (s.type !== 4 || s.info >= secs.length) continue;
    const target = secs[s.info]!;
    if (!(target.flags & SHF_ALLOC)) continue;
    for (let o = s.offset; o + 24 <= s.offset + s.size; o += 24) {
      const offset = Number(buf.readBigUInt64LE(o));
      const type = buf.readUInt32LE(o + 8);
      const sym = buf.readUInt32LE(o + 12);
      const field = LOADER_FIELD[type];
      if (field === undefined) out.push(`section ${s.index}: relocation type ${type}`);
      else if (type !== 0 && offset + field > target.size) out.push(`section ${s.index}: field ${offset}+${field} past ${target.size} bytes of section ${target.index}`);
      else if (type !== 0 && sym >= nsyms) out.push(`section ${s.index}: symbol ${sym} of ${nsyms}`);
    }
  }
  return out;
}

/** One field of the module changed to a value that tends to break loaders. */
function mutate(rng: Rng, buf: Buffer): string {
  const secs = rawSections(buf);
  const symtab = secs.find((s) => s.type === 2)!;
  const nsyms = symtab.size / 24;
  const relas = secs.filter((s) => s.type === 4 && secs[s.info] && secs[s.info]!.flags & SHF_ALLOC);
  const near = (n: number): number => Math.max(0, n + rng.pick([-9, -8, -5, -4, -3, -2, -1, 0, 1, 2, 8]));
  switch (rng.int(6)) {
    case 0:
    case 1: {
      const s = rng.pick(relas);
      const i = rng.int(s.size / 24);
      const target = secs[s.info]!;
      const v = rng.pick([near(target.size), rng.int(target.size + 16), 2 ** 32 + rng.int(64), 2 ** 52]);
      buf.writeBigUInt64LE(BigInt(v), s.offset + i * 24);
      return `section ${s.index} relocation ${i} r_offset = ${v} ('${target.index}' is ${target.size} bytes)`;
    }
    case 2: {
      const s = rng.pick(relas);
      const i = rng.int(s.size / 24);
      const type = rng.pick([0, 1, 2, 4, 10, 11, 24, 3, 9, 12, 13, 14, 15, 41, 42, rng.int(64), 0xffff]);
      buf.writeUInt32LE(type, s.offset + i * 24 + 8);
      return `section ${s.index} relocation ${i} type = ${type}`;
    }
    case 3: {
      const s = rng.pick(relas);
      const i = rng.int(s.size / 24);
      const sym = rng.pick([nsyms, nsyms - 1, nsyms + 1, 0, rng.int(nsyms), 0xffffff]);
      buf.writeUInt32LE(sym, s.offset + i * 24 + 12);
      return `section ${s.index} relocation ${i} symbol = ${sym} (${nsyms} symbols)`;
    }
    case 4: {
      const i = 1 + rng.int(nsyms - 1);
      const shndx = rng.pick([0, 1, secs.length - 1, secs.length, secs.length + 1, 0xff00, 0xff05, 0xff1f, SHN_LIVEPATCH, 0xff3f, SHN_ABS, SHN_COMMON, 0xfffe, 0xffff]);
      buf.writeUInt16LE(shndx, symtab.offset + i * 24 + 6);
      return `symbol ${i} st_shndx = ${shndx}`;
    }
    default: {
      // A section header: the size of a section relocations apply to, or a relocation section's sh_info / sh_link.
      const shoff = Number(buf.readBigUInt64LE(40));
      const s = rng.pick(relas);
      const which = rng.pick(['target sh_size', 'sh_info', 'sh_link'] as const);
      if (which === 'target sh_size') {
        const target = secs[s.info]!;
        const v = near(target.size);
        buf.writeBigUInt64LE(BigInt(v), shoff + target.index * 64 + 32);
        return `section ${target.index} sh_size = ${v} (was ${target.size})`;
      }
      const v = rng.pick([0, 1, rng.int(secs.length), secs.length, secs.length + 5, symtab.index]);
      buf.writeUInt32LE(v, shoff + s.index * 64 + (which === 'sh_info' ? 44 : 40));
      return `section ${s.index} ${which} = ${v}`;
    }
  }
}

describe('fuzzing the ELF fields the module loader trusts (issue 20)', () => {
  let sandbox: Sandbox;
  let built: BuiltSplit & { part: string };
  beforeAll(async () => {
    sandbox = new Sandbox(CLASS);
    built = await builtRelocSplit();
  }, 600_000);
  afterAll(() => sandbox?.remove());

  it('the oracle finds nothing in the unmutated modules, and what verify and the simulator refuse', () => {
    for (const ko of [built.part, 'klpr-fix.ko']) expect(kernelRefusals(readFileSync(join(built.dir, ko)))).toEqual([]);
    const text = readFileSync(join(built.dir, built.part));
    const pastEnd = Buffer.from(text);
    const rela = rawSections(pastEnd).find((s) => s.type === 4 && s.size > 0 && rawSections(pastEnd)[s.info]!.flags & SHF_ALLOC)!;
    pastEnd.writeBigUInt64LE(BigInt(rawSections(pastEnd)[rela.info]!.size - 1), rela.offset);
    expect(kernelRefusals(pastEnd)).toHaveLength(1);
  });

  /** Inputs the kernel refuses, for the figures: the oracle above was really exercised. */
  let refused = 0;
  const runCase = async (rng: Rng): Promise<CaseOutcome> => {
    const dir = join(sandbox.work, 'split');
    cpSync(built.dir, dir, { recursive: true });
    const ko = rng.chance(0.7) ? built.part : 'klpr-fix.ko';
    const buf = readFileSync(join(dir, ko));
    const change = mutate(rng, buf);
    writeFileSync(join(dir, ko), buf);
    recordForgedModule(join(dir, ko));
    const what = `${ko}: ${change}`;
    noteCase(sandbox, what);
    const scenario = join(sandbox.work, 'load.scenario');
    writeFileSync(scenario, 'modprobe klpr_mod\nmodprobe klpr_fix\n');
    const verifyArgs = ['verify', dir, '--target', built.target, '--no-explore', '--format', 'json'];
    const simulateArgs = ['simulate', dir, '--target', built.target, '--scenario', scenario, '--json'];
    const v = await judge(sandbox, [sandbox.work], () => runInProcess(verifyArgs));
    const s = await judge(sandbox, [sandbox.work], () => runInProcess(simulateArgs));
    const violations: Violation[] = [...v.violations, ...s.violations];
    const refusals = kernelRefusals(buf);
    if (refusals.length) refused++;
    const verified = v.r.code === 0;
    const loaded = (s.r.code === 0 || s.r.code === 1) && s.r.stdout.includes("livepatch: 'klpr_fix': patching complete");
    if (refusals.length && verified) violations.push({ kind: 'silently-wrong', detail: `verify passed a module the kernel refuses: ${refusals[0]}` });
    if (refusals.length && loaded) violations.push({ kind: 'silently-wrong', detail: `the simulator loaded a module the kernel refuses: ${refusals[0]}` });
    if (verified && !loaded) violations.push({ kind: 'disagree', detail: `verify passed, the simulator did not load it (exit ${s.r.code}): ${s.r.stderr.split('\n')[0] ?? ''}` });
    return { what, violations, commands: [verifyArgs, simulateArgs] };
  };

  it.each(SEEDS.map(hex))(`${CASES.length} mutated fields, seed %s: verify and the simulator refuse every module the kernel refuses, and agree`, async (seedText) => {
    refused = 0;
    const { failures, figures } = await fuzzSeed(CLASS, Number(seedText), CASES, sandbox, runCase);
    console.log(`${summary(figures)}; ${refused} of them modules the kernel refuses or corrupts memory with`);
    expect(failures.slice(0, 15).map((f) => describeFailure(CLASS, f))).toEqual([]);
  });
});
