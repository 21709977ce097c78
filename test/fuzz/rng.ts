/**
 * Seeds and counts of the fuzz suite. Every case has its own generator,
 * derived from (seed, case index), so one failing case replays alone:
 * FUZZ_SEED=<seed> FUZZ_CASE=<index> npx vitest run test/fuzz/<class>.fuzz.test.ts
 * FUZZ_COUNT=<n> widens every class to n cases per seed; FUZZ_LONG=1 to ten
 * times its CI count (`npm run fuzz`).
 */

/** mulberry32: a tiny, well-mixed 32-bit PRNG, reproducible across runs and platforms (as the ELF fuzzer's). */
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

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  /** A few distinct elements. */
  some<T>(xs: readonly T[], n: number): T[] {
    const copy = [...xs];
    const out: T[] = [];
    while (copy.length && out.length < n) out.push(copy.splice(this.int(copy.length), 1)[0]!);
    return out;
  }
}

/** The generator of one case: seed and index mixed so neighbouring cases are unrelated. */
export function caseRng(seed: number, index: number): Rng {
  return new Rng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));
}

export function fuzzSeeds(defaults: number[]): number[] {
  return process.env.FUZZ_SEED ? process.env.FUZZ_SEED.split(',').map((s) => Number(s.trim())) : defaults;
}

/** How many times the CI counts a long campaign runs (FUZZ_LONG=1, `npm run fuzz`). */
export const LONG_FACTOR = 10;

/**
 * Case indexes to run for one seed: FUZZ_CASE (replay) or 0..count-1
 * (FUZZ_COUNT, else the class's CI default, LONG_FACTOR times it with FUZZ_LONG=1).
 */
export function fuzzCases(ciDefault: number): number[] {
  if (process.env.FUZZ_CASE) return process.env.FUZZ_CASE.split(',').map(Number);
  const n = process.env.FUZZ_COUNT ? Number(process.env.FUZZ_COUNT) : process.env.FUZZ_LONG === '1' ? ciDefault * LONG_FACTOR : ciDefault;
  return Array.from({ length: n }, (_, i) => i);
}

export function hex(seed: number): string {
  return `0x${(seed >>> 0).toString(16)}`;
}
