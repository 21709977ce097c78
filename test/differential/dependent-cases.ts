import type { RealCase } from '../helpers/real-kernel.js';
import { BASE, PATCH, USER } from './dependent-modules.js';

/**
 * The dependent-targets cases the real kernel runs: orders the model calls
 * impossible (the shell types them anyway; the kernel must refuse exactly
 * where the model has no such event), and orders the model explores.
 */
export interface DependentCase extends RealCase {
  what: string;
  /** Steps (indexes) the model has no event for: the kernel must refuse them. */
  refused: number[];
  /** Lines the real kernel's transcript must contain (its refusal, in its words). */
  reactions: string[];
}

const disable = `echo 0 > /sys/kernel/livepatch/${PATCH}/enabled`;

export const REFUSED_CASES: DependentCase[] = [
  {
    id: 'rmmod-exporter-in-use',
    what: 'rmmod the exporting target while its user is loaded',
    steps: [`modprobe ${USER}`, `rmmod ${BASE}`, `rmmod ${USER}`, `rmmod ${BASE}`],
    refused: [1],
    reactions: [`rmmod: ERROR: Module ${BASE} is in use by: ${USER}`],
  },
  {
    id: 'insmod-user-first',
    what: 'insmod the user before the exporter (no dependency loading)',
    steps: [`insmod ${USER}`, `insmod ${BASE}`, `insmod ${USER}`, `rmmod ${USER}`, `rmmod ${BASE}`],
    refused: [0],
    reactions: [`${USER}: Unknown symbol klpdd_base_value (err -2)`, `insmod: ERROR: could not insert module ${USER}: Unknown symbol in module`],
  },
  {
    id: 'rmmod-patched-exporter-in-use',
    what: 'with the patch applied to both, rmmod the exporter while its user is loaded',
    steps: [`modprobe ${PATCH}`, `modprobe ${USER}`, `rmmod ${BASE}`, `rmmod ${USER}`, `rmmod ${BASE}`, disable, `rmmod ${PATCH}`],
    refused: [2],
    reactions: [`rmmod: ERROR: Module ${BASE} is in use by: ${USER}`, `livepatch: applying patch '${PATCH}' to loading module '${USER}'`],
  },
];

/**
 * `count` orders spread evenly over the model's complete orders (every one
 * of them a path the checker explores), as real-kernel cases.
 */
export function exploredCases(orders: string[][], count: number): RealCase[] {
  const picked = new Map<number, string[]>();
  for (let i = 0; i < count && i < orders.length; i++) {
    const at = Math.floor((i * orders.length) / Math.min(count, orders.length));
    picked.set(at, orders[at]!);
  }
  return [...picked].map(([at, steps]) => ({ id: `model-order-${at}`, steps }));
}
