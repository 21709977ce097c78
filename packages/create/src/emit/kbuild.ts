import { posix } from 'node:path';
import type { FileSection } from './livepatch-source.js';

/**
 * The livepatch's Kbuild: one module, and the fixed files' directories of
 * the kernel source as include directories, so their local headers
 * (`#include "internal.h"`) are reached where they are, not copied
 * (`klp-split split` keeps them for the split's parts).
 */

/** Source directories whose local headers the livepatch includes. */
export function localIncludeDirs(sections: FileSection[]): string[] {
  const dirs = new Set<string>();
  for (const s of sections) {
    if (s.plan.after.defs.some((d) => d.kind === 'include' && d.active !== false && /^#\s*include\s*"/.test(d.text))) dirs.add(posix.dirname(s.plan.file.path));
  }
  return [...dirs].sort();
}

export function kbuildText(name: string, patches: string[], sourceRoot: string, includeDirs: string[]): string {
  const lines = [
    '# SPDX-License-Identifier: GPL-2.0-only',
    `# ${name}: a livepatch made by klp-split create from ${patches.join(', ')}.`,
  ];
  if (includeDirs.length) {
    lines.push("# The fixed files' local headers, where the kernel source has them.");
    for (const d of includeDirs) lines.push(`ccflags-y += -I${sourceRoot}/${d}`);
  }
  lines.push(`obj-m += ${name}.o`);
  return `${lines.join('\n')}\n`;
}
