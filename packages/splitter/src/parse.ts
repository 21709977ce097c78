import { createRequire } from 'node:module';
import type ParserType from 'tree-sitter';
import { maskAnnotations } from './mask.js';
import type { DiagnosticSink } from '@klp-split/core';

export type SyntaxNode = ParserType.SyntaxNode;
export type Tree = ParserType.Tree;

const require = createRequire(import.meta.url);
const Parser = require('tree-sitter') as typeof ParserType;
const C = require('tree-sitter-c') as unknown;

let parser: ParserType | undefined;

function cParser(): ParserType {
  if (!parser) {
    parser = new Parser();
    parser.setLanguage(C as Parameters<ParserType['setLanguage']>[0]);
  }
  return parser;
}

/** tree-sitter's default input buffer is too small for large generated sources. */
function bufferSizeFor(text: string): number {
  return Math.max(32 * 1024, 2 ** Math.ceil(Math.log2(text.length + 1)));
}

export function parseC(source: string): Tree {
  const masked = maskAnnotations(source);
  return cParser().parse(masked, undefined, { bufferSize: bufferSizeFor(masked) });
}

export function position(node: SyntaxNode): { line: number; col: number } {
  return { line: node.startPosition.row + 1, col: node.startPosition.column + 1 };
}

/**
 * A declaration cut by a conditional (`#if A` / `static int f(long x)` /
 * `#else` / `static int f(int x)` / `#endif` / `{ ... }`) is C the compiler
 * takes but no syntax tree holds: each branch holds half an item. The split
 * moves whole items, so it says what to write instead.
 */
const CUT_BY_CONDITIONAL = "a conditional cuts this declaration off from the rest of it (its body or its end): klp-split moves whole items, so write the whole function or declaration in each branch of the #if";

/** The text right after `offset` (blanks skipped) is an `#else`, `#elif` or `#endif`. */
function directiveFollows(text: string, offset: number): boolean {
  return /^\s*#\s*(?:else|elif|endif)\b/.test(text.slice(offset, offset + 200));
}

/** Reports every ERROR and MISSING node; returns how many were found. */
export function reportSyntaxErrors(tree: Tree, sink: DiagnosticSink): number {
  let count = 0;
  const text = tree.rootNode.text;
  const visit = (node: SyntaxNode): void => {
    if (!node.hasError && !node.isMissing) return;
    if (node.isMissing) {
      count++;
      if (directiveFollows(text, node.startIndex)) sink.error(position(node), 'conditional-splits-item', CUT_BY_CONDITIONAL);
      else sink.error(position(node), 'syntax-error', `expected '${node.type}'`);
      return;
    }
    if (node.type === 'ERROR') {
      count++;
      if (/^[ \t]*#[ \t]*(?:if|ifdef|ifndef|else|elif|endif)\b/m.test(node.text) || directiveFollows(text, node.endIndex)) {
        sink.error(position(node), 'conditional-splits-item', CUT_BY_CONDITIONAL);
        return;
      }
      const snippet = node.text.split('\n')[0]!.slice(0, 40);
      sink.error(position(node), 'syntax-error', `cannot parse '${snippet}'`);
      return;
    }
    for (const child of node.children) visit(child);
  };
  visit(tree.rootNode);
  return count;
}
