/**
 * The write points of one commit of the write layer
 * (packages/core/src/write, its test-only crash hook
 * KLP_SPLIT_TEST_CRASH_AT=<n> kills the process before the n-th): each
 * staged file, the journal, each rename, each deletion, the journal's
 * removal. A commit that writes W files and deletes D has 2W + D + 2 of them,
 * in that order, so the phases follow from what a clean run changed.
 */
export interface WritePhases {
  /** Files written (new or changed). */
  writes: number;
  /** Files deleted. */
  deletes: number;
  /** Write points in all: a kill at `total` is the last, a run told to die at `total + 1` finishes. */
  total: number;
}

type Tree = Map<string, string> | Record<string, string>;

/** The phases of the commit that turned `before` into `after` (file -> content or hash; 'dir' entries are directories). */
export function writePhases(before: Tree, after: Tree): WritePhases {
  const files = (t: Tree): Map<string, string> => new Map([...(t instanceof Map ? t : Object.entries(t))].filter(([, v]) => v !== 'dir'));
  const [b, a] = [files(before), files(after)];
  const writes = [...a].filter(([f, v]) => b.get(f) !== v).length;
  const deletes = [...b.keys()].filter((f) => !a.has(f)).length;
  return { writes, deletes, total: writes ? 2 * writes + deletes + 2 : 0 };
}

/**
 * Where to kill: every point when `all` (the long fuzz tier, FUZZ_LONG=1),
 * else a fixed sample holding every kind of point: the first and the last
 * of each phase (nothing staged, all but one staged; the journal; no file
 * renamed, all but one renamed; no file deleted, all but one deleted; the
 * journal's removal, the last point). Always also `total + 1`, past the
 * last: that run must finish, which proves the count.
 */
export function killPoints(p: WritePhases, all = process.env.FUZZ_LONG === '1'): number[] {
  if (p.total === 0) return [1];
  if (all) return Array.from({ length: p.total + 1 }, (_, i) => i + 1);
  const { writes: w, deletes: d, total } = p;
  const stage = [1, w];
  const journal = [w + 1];
  const renames = [w + 2, 2 * w + 1];
  const deletes = d ? [2 * w + 2, 2 * w + d + 1] : [];
  return [...new Set([...stage, ...journal, ...renames, ...deletes, total, total + 1])].filter((n) => n >= 1).sort((x, y) => x - y);
}
