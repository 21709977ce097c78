import { decodeCString } from './c-strings.js';
import { initElements, isTerminator } from './initializer.js';
import { parseC, type SyntaxNode } from './parse.js';

/** The unit's text after the compiler's preprocessor; undefined when no compiler is at hand. */
export type Preprocessor = () => string | undefined;

interface EvaluatedFunc {
  oldName: string | undefined;
  newFunc: string;
  sympos: number;
}

/**
 * A klp_func array as the compiler sees it: read from the preprocessed text,
 * where macros are expanded and only the configuration's branches remain.
 */
export function evaluatedFuncArray(preprocessed: string, arrayName: string): EvaluatedFunc[] | undefined {
  const array = preprocessedArray(preprocessed, 'klp_func', arrayName);
  if (!array) return undefined;
  const { list, text } = array;
  const out: EvaluatedFunc[] = [];
  for (const el of initElements(list, text)) {
    if (isTerminator(el.node) || el.value.type !== 'initializer_list') continue;
    const fields = initElements(el.value, text, ['old_name', 'new_func', 'old_sympos']);
    const get = (f: string): SyntaxNode | undefined => fields.find((x) => x.field === f)?.value;
    const name = get('old_name');
    const sympos = Number(get('old_sympos')?.text.replace(/[uUlL]+$/, '') ?? 0);
    out.push({ oldName: name ? literalValue(name) : undefined, newFunc: get('new_func')?.text.replace(/^&\s*/, '').replace(/^\((.*)\)$/, '$1') ?? '', sympos: Number.isFinite(sympos) ? sympos : 0 });
  }
  return out;
}

/** The `.name` of each klp_object in the array as the compiler sees it: null for vmlinux, undefined when not a literal. */
export function evaluatedObjectNames(preprocessed: string, arrayName: string): (string | null | undefined)[] | undefined {
  const array = preprocessedArray(preprocessed, 'klp_object', arrayName);
  if (!array) return undefined;
  const out: (string | null | undefined)[] = [];
  for (const el of initElements(array.list, array.text)) {
    if (isTerminator(el.node) || el.value.type !== 'initializer_list') continue;
    const name = initElements(el.value, array.text, ['name']).find((x) => x.field === 'name')?.value;
    out.push(!name || name.text === 'NULL' || name.text === '((void *)0)' ? null : literalValue(name));
  }
  return out;
}

function preprocessedArray(preprocessed: string, tag: string, arrayName: string): { list: SyntaxNode; text: string } | undefined {
  const head = new RegExp(`struct\\s+${tag}\\s+${arrayName}\\s*\\[[^\\]]*\\]\\s*=\\s*\\{`).exec(preprocessed);
  if (!head) return undefined;
  const open = head.index + head[0].length - 1;
  const close = matchingBrace(preprocessed, open);
  if (close < 0) return undefined;
  const tree = parseC(`static struct ${tag} __klp_split[] = ${preprocessed.slice(open, close + 1)};`);
  const list = tree.rootNode.descendantsOfType('initializer_list')[0];
  if (!list || tree.rootNode.hasError) return undefined;
  return { list, text: tree.rootNode.text };
}

function literalValue(node: SyntaxNode): string | undefined {
  if (node.type === 'string_literal') return decodeCString(node.text);
  if (node.type === 'concatenated_string') {
    let s = '';
    for (const c of node.namedChildren) {
      const v = literalValue(c);
      if (v === undefined) return undefined;
      s += v;
    }
    return s;
  }
  if (node.type === 'parenthesized_expression' && node.namedChildren[0]) return literalValue(node.namedChildren[0]);
  return undefined;
}

function matchingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      i = j;
    } else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  return -1;
}

/**
 * The preprocessor conditions around an offset inside an initializer, as one
 * `#if` expression (`defined(CONFIG_X86_64) && !(A)`); undefined when none.
 */
export function conditionAt(source: string, from: number, at: number): string | undefined {
  const stack: { expr: string; prior: string[] }[] = [];
  const re = /^[ \t]*#[ \t]*(ifdef|ifndef|if|elif|else|endif)\b[ \t]*(.*)$/gm;
  re.lastIndex = from;
  for (let m = re.exec(source); m && m.index < at; m = re.exec(source)) {
    const arg = m[2]!.replace(/\/\*.*?\*\/|\/\/.*$/g, '').trim();
    const top = stack[stack.length - 1];
    switch (m[1]) {
      case 'ifdef':
        stack.push({ expr: `defined(${arg})`, prior: [] });
        break;
      case 'ifndef':
        stack.push({ expr: `!defined(${arg})`, prior: [] });
        break;
      case 'if':
        stack.push({ expr: `(${arg})`, prior: [] });
        break;
      case 'elif':
        if (top) top.prior.push(top.expr), (top.expr = `(${arg})`);
        break;
      case 'else':
        if (top) top.prior.push(top.expr), (top.expr = '');
        break;
      case 'endif':
        stack.pop();
        break;
    }
  }
  const parts = stack.flatMap((s) => [...s.prior.map((p) => `!${p.startsWith('(') || p.startsWith('!') || p.startsWith('defined') ? p : `(${p})`}`), ...(s.expr ? [s.expr] : [])]);
  return parts.length ? parts.join(' && ') : undefined;
}
