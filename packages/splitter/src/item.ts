import type { SyntaxNode } from './parse.js';
import type { Cond, Preamble } from './top-level.js';

export type { Cond, Preamble } from './top-level.js';

/**
 * The top-level items of a C file, with what each defines and uses. The
 * splitter moves whole items between files, so an item owns its leading
 * comments and a trailing comment on its last line.
 */
export type ItemKind = 'include' | 'macro' | 'function' | 'variable' | 'prototype' | 'type' | 'call' | 'other';

export interface Item {
  index: number;
  kind: ItemKind;
  node: SyntaxNode;
  start: number;
  end: number;
  text: string;
  /** Blank lines that followed the item in the original ('\n' or '\n\n'). */
  gap: string;
  defines: string[];
  uses: Set<string>;
  conds: Cond[];
  /** Comments before conditionals this item is the first item of, written before their directives. */
  preambles: Preamble[];
  pos: { line: number; col: number };
  isStatic: boolean;
  isInline: boolean;
  /** For variables: the object itself cannot change (so copies are harmless). */
  isConst: boolean;
  /** For functions: has a `static` local, so copies would not share it. */
  stateful: boolean;
  /** For variables and prototypes: the struct tag of the declared type (`klp_func`). */
  structTag?: string;
  isArray: boolean;
  /** For top-level macro invocations such as `module_param(x, int, 0644);`. */
  call?: { name: string; args: SyntaxNode[] };
}
