import type { SyntaxNode } from './parse.js';

/** What a C declarator declares: its name and whether it is a function or an object. */
/** The identifier a declarator declares, through pointers, arrays, calls and initializers. */
export function declaredName(d: SyntaxNode | null | undefined): string | undefined {
  let node = d;
  while (node) {
    if (node.type === 'identifier' || node.type === 'type_identifier' || node.type === 'field_identifier') return node.text;
    node = node.childForFieldName('declarator') ?? node.namedChildren.find((c) => c.type.endsWith('declarator') || c.type === 'identifier');
  }
  return undefined;
}

/**
 * The declarator operator nearest the declared name decides what it is:
 * `*f(void)` is a function, `(*hook)(int)` a pointer variable.
 */
export function innermostKind(d: SyntaxNode): string {
  let node: SyntaxNode | null = d.type === 'init_declarator' ? d.childForFieldName('declarator') : d;
  let kind = '';
  while (node && node.type !== 'identifier') {
    if (node.type !== 'parenthesized_declarator') kind = node.type;
    node = node.childForFieldName('declarator') ?? node.namedChildren.find((c) => c.type.endsWith('declarator') || c.type === 'identifier') ?? null;
  }
  return kind;
}

export function hasDescendant(node: SyntaxNode, type: string): boolean {
  return node.descendantsOfType(type).length > 0;
}
