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

/** The text with strings, character literals and comments blanked, every offset and newline kept. */
export function blankStringsAndComments(text: string): string {
  return text.replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (m) => m.replace(/[^\n]/g, ' '));
}

/** Offset of the first use of `name` as an identifier (not a member name) in C text, or -1. */
export function firstUse(text: string, name: string): number {
  const blanked = blankStringsAndComments(text);
  const re = new RegExp(`(->|\\.)?\\s*\\b${name}\\b`, 'g');
  for (const m of blanked.matchAll(re)) if (!m[1]) return m.index! + m[0].length - name.length;
  return -1;
}
