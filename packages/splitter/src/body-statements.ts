import { identifiersIn } from './c-identifiers.js';
import type { Item } from './item.js';
import type { SyntaxNode } from './parse.js';

/** A statement of a function's body (module_init's, module_exit's), with the comments above it. */
export interface BodyStatement {
  node: SyntaxNode;
  /** Where its text starts: its first comment, or the statement. */
  start: number;
  uses: Set<string>;
}

/** The top-level statements of a function's body, each with the comments right above it. */
export function bodyStatements(fn: Item | undefined): BodyStatement[] {
  const body = fn?.node.childForFieldName('body');
  if (!body) return [];
  const out: BodyStatement[] = [];
  let pendingStart: number | undefined;
  for (const child of body.namedChildren) {
    if (child.type === 'comment') {
      pendingStart ??= child.startIndex;
      continue;
    }
    out.push({ node: child, start: pendingStart ?? child.startIndex, uses: identifiersIn(child) });
    pendingStart = undefined;
  }
  return out;
}
