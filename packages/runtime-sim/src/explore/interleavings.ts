/**
 * Every interleaving of several lifecycles: each entity's events keep their
 * order, the entities' events interleave in every possible way. With k
 * entities of two events each there are (2k)! / 2^k of them.
 */
export function* interleavings<T>(lifecycles: T[][]): Generator<T[]> {
  const positions = lifecycles.map(() => 0);
  const total = lifecycles.reduce((n, l) => n + l.length, 0);
  const current: T[] = [];
  function* step(): Generator<T[]> {
    if (current.length === total) {
      yield [...current];
      return;
    }
    for (let i = 0; i < lifecycles.length; i++) {
      const p = positions[i]!;
      if (p >= lifecycles[i]!.length) continue;
      current.push(lifecycles[i]![p]!);
      positions[i] = p + 1;
      yield* step();
      positions[i] = p;
      current.pop();
    }
  }
  yield* step();
}
