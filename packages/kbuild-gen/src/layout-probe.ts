import { layoutSymbolName, LAYOUT_SIZEOF } from '@klp-split/core';

/**
 * The layout probe's C source: a tiny module whose only content is the size
 * and field offsets of the livepatch structures, as the compiler lays them
 * out for this kernel's configuration. The symbol names and field lists are
 * the contract in @klp-split/core (contracts/layout-probe.ts), which the
 * simulator reads back.
 */
export function layoutProbeSource(fields: Record<string, string[]>): string {
  const lines = ['// SPDX-License-Identifier: GPL-2.0', '#include <linux/module.h>', '#include <linux/livepatch.h>', ''];
  for (const [struct, names] of Object.entries(fields)) {
    lines.push(`const unsigned long ${layoutSymbolName(struct, LAYOUT_SIZEOF)} = sizeof(struct ${struct});`);
    for (const f of names) {
      lines.push(`const unsigned long ${layoutSymbolName(struct, f)} = offsetof(struct ${struct}, ${f});`);
    }
  }
  lines.push('', 'MODULE_LICENSE("GPL");', '');
  return lines.join('\n');
}
