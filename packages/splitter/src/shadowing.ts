import { stripStringsAndComments } from './c-identifiers.js';
import { declaredName } from './declarators.js';
import type { Item } from './item.js';
import type { SyntaxNode } from './parse.js';

/**
 * A parameter or local variable named like a top-level item hides it. The
 * text test is cheap and only a possible declaration sends the function
 * through the syntax tree.
 */
export function dropShadowedNames(item: Item, byName: Map<string, Item[]>, source: string): void {
  let text: string | undefined;
  const suspects: string[] = [];
  for (const n of item.uses) {
    if (!byName.has(n)) continue;
    text ??= stripStringsAndComments(source.slice(item.node.startIndex, item.end));
    if (mayDeclare(text, n)) suspects.push(n);
  }
  if (!suspects.length) return;
  const locals = localNames(item.node);
  for (const n of suspects) if (locals.has(n)) item.uses.delete(n);
}

/** `T name =`, `T *name;`, `(T name,`: the name follows a type or a star and precedes = ; , [ or ). */
function mayDeclare(text: string, name: string): boolean {
  const word = /[A-Za-z0-9_]/;
  for (let at = text.indexOf(name); at >= 0; at = text.indexOf(name, at + 1)) {
    const before = text[at - 1] ?? ' ';
    const after = text[at + name.length] ?? ' ';
    if (word.test(before) || word.test(after)) continue;
    let i = at - 1;
    while (i >= 0 && (text[i] === ' ' || text[i] === '\t')) i--;
    let j = at + name.length;
    while (j < text.length && (text[j] === ' ' || text[j] === '\t')) j++;
    if ((word.test(text[i] ?? '') || text[i] === '*') && '=;,[)'.includes(text[j] ?? '.')) return true;
  }
  return false;
}

/** Parameter and local variable names, which shadow top-level names. */
export function localNames(fn: SyntaxNode): Set<string> {
  const names = new Set<string>();
  for (const p of fn.descendantsOfType('parameter_declaration')) {
    const n = declaredName(p.childForFieldName('declarator'));
    if (n) names.add(n);
  }
  const body = fn.childForFieldName('body');
  if (body) {
    for (const d of body.descendantsOfType('declaration')) {
      for (const decl of d.childrenForFieldName('declarator')) {
        const n = declaredName(decl);
        if (n) names.add(n);
      }
    }
  }
  return names;
}
