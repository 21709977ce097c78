import type { SyntaxNode } from './parse.js';

/** Identifiers in C text: what an item mentions, with strings, comments and member names left out. */
const IDENT_OR_MEMBER_RE = /(->|\.)?\s*\b([A-Za-z_][A-Za-z0-9_]*)/g;

export function stripStringsAndComments(text: string): string {
  return text.replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ' ');
}

/** Identifiers a piece of C mentions, outside strings, comments and member accesses (`a.b`, `p->b`). */
export function identifiersInText(text: string): string[] {
  const out: string[] = [];
  for (const m of stripStringsAndComments(text).matchAll(IDENT_OR_MEMBER_RE)) if (!m[1]) out.push(m[2]!);
  return out;
}

/** Every identifier a node mentions (outside strings and comments). */
export function identifiersIn(node: SyntaxNode): Set<string> {
  return new Set(identifiersInText(node.text));
}

