import type { CheckBudget } from './search.js';

/**
 * verify's model check when no --budget is given: bounded, so that a patch
 * of many dependent targets ends with a model-check-incomplete warning
 * naming what was searched instead of running for hours (issue 20: 30
 * dependent targets ran 900 s and filled 4.3 GB). Measured here: the 10
 * independent targets of bench/model-check.bench.mjs finish well inside it.
 */
export const DEFAULT_VERIFY_BUDGET: Readonly<CheckBudget> = { ms: 120_000, states: 1_000_000 };

/** A budget as --budget reads it back, for messages. */
export function budgetText(b: CheckBudget): string {
  const parts = [b.ms !== undefined ? `${b.ms % 60_000 === 0 ? `${b.ms / 60_000}m` : `${b.ms / 1000}s`}` : undefined, b.states !== undefined ? `${b.states} states` : undefined].filter(Boolean);
  return parts.length ? parts.join(', ') : 'unlimited';
}

/**
 * `--budget` as people write it: a time (`90s`, `2m`, `1500ms`), a number
 * of states (`200000` or `200000states`), or both separated by a comma;
 * `unlimited` for neither.
 * Returns an error message for anything else.
 */
export function parseBudget(text: string): CheckBudget | string {
  const budget: CheckBudget = {};
  // No time or state bound (the search still stops before the heap runs out).
  if (text.trim() === 'unlimited') return budget;
  for (const part of text.split(',').map((p) => p.trim())) {
    const time = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(part);
    const states = /^(\d+)(?:states?)?$/.exec(part);
    if (time) budget.ms = Number(time[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[time[2] as 'ms' | 's' | 'm' | 'h'];
    else if (states) budget.states = Number(states[1]);
    else return `cannot read budget '${part}': give a time (90s, 2m) and/or a number of states (200000), separated by a comma`;
  }
  if (budget.ms === 0 || budget.states === 0) return `budget '${text}' allows nothing`;
  return budget;
}
