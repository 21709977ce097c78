import type { SyntaxNode } from './parse.js';

/**
 * One element of a C initializer list, with the comments around it, so a
 * field can be moved to another initializer without losing its notes.
 */
export interface InitElement {
  /** The designated field (`name` for `.name = x`), or the positional field name. */
  field: string | undefined;
  designated: boolean;
  node: SyntaxNode;
  /** The value (for `.a = v`, the `v`). */
  value: SyntaxNode;
  /** Offset where the element's text (its first leading comment) starts. */
  start: number;
  /** Text of the element with its leading comments. */
  text: string;
  /** What followed the element on its line: the comma and a trailing comment. */
  trailing: string;
  /** Indentation of the line where the element (or its first comment) starts. */
  indent: string;
}

/**
 * Splits an initializer_list into its elements; positional ones get names
 * from `positional`. Walks with a cursor: only elements become node objects.
 */
export function initElements(list: SyntaxNode, source: string, positional: readonly string[] = []): InitElement[] {
  const out: InitElement[] = [];
  let pendingStart: number | undefined;
  let position = 0;
  const cursor = list.walk();
  if (!cursor.gotoFirstChild()) return out;
  do {
    const type = cursor.nodeType;
    if (type === '{' || type === '}' || type === ',') continue;
    if (type === 'comment') {
      const prev = out[out.length - 1];
      const sameLine = prev && pendingStart === undefined && !source.slice(prev.node.endIndex, cursor.startIndex).includes('\n');
      if (sameLine) prev.trailing = source.slice(prev.node.endIndex, cursor.endIndex);
      else pendingStart ??= cursor.startIndex;
      continue;
    }
    const child = cursor.currentNode;
    const start = pendingStart ?? child.startIndex;
    pendingStart = undefined;
    let field = positional[position];
    let value = child;
    const designated = type === 'initializer_pair';
    if (designated) {
      field = /^\.\s*([A-Za-z_]\w*)/.exec(source.slice(child.startIndex, child.endIndex))?.[1];
      value = child.childForFieldName('value') ?? child.lastNamedChild!;
    }
    position++;
    out.push({ field, designated, node: child, value, start, text: source.slice(start, child.endIndex), trailing: '', indent: lineIndent(source, start) });
  } while (cursor.gotoNextSibling());
  return out;
}

function lineIndent(source: string, at: number): string {
  const lineStart = source.lastIndexOf('\n', at - 1) + 1;
  return /^[ \t]*/.exec(source.slice(lineStart, at))![0];
}

/** An empty `{ }` element: the terminator of klp_func and klp_object arrays. */
export function isTerminator(node: SyntaxNode): boolean {
  return node.type === 'initializer_list' && /^\{(?:\s|\/\*(?:[^*]|\*(?!\/))*\*\/)*\}$/.test(node.text);
}

/**
 * Re-indents a moved element: its first line goes at `indent`, and later lines
 * keep their depth relative to the element's original indentation.
 */
function reindent(text: string, from: string, to: string): string {
  return text
    .split('\n')
    .map((line, i) => (i === 0 ? to + line : line.startsWith(from) ? to + line.slice(from.length) : line))
    .join('\n');
}

/**
 * The element as a line of a new initializer: `<indent>text,<trailing comment>`,
 * optionally with its value text replaced (its comments stay).
 */
export function elementLine(el: InitElement, indent: string, replacement?: string): string {
  const comment = el.trailing.replace(/^\s*,?/, '');
  const spacer = comment && !/^\s/.test(comment) ? ' ' : '';
  const nodeLength = el.node.endIndex - el.node.startIndex;
  const text = replacement === undefined ? el.text : el.text.slice(0, el.text.length - nodeLength) + replacement;
  return `${reindent(text, el.indent, indent)},${spacer}${comment}`;
}
