import type { CheckBudget } from './search.js';

/**
 * `--budget` as people write it: a time (`90s`, `2m`, `1500ms`), a number
 * of states (`200000` or `200000states`), or both separated by a comma.
 * Returns an error message for anything else.
 */
export function parseBudget(text: string): CheckBudget | string {
  const budget: CheckBudget = {};
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
