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

/** Reports every ERROR and MISSING node; returns how many were found. */
export function reportSyntaxErrors(tree: Tree, sink: DiagnosticSink): number {
  let count = 0;
  const visit = (node: SyntaxNode): void => {
    if (!node.hasError && !node.isMissing) return;
    if (node.isMissing) {
      count++;
      sink.error(position(node), 'syntax-error', `expected '${node.type}'`);
      return;
    }
    if (node.type === 'ERROR') {
      count++;
      const snippet = node.text.split('\n')[0]!.slice(0, 40);
      sink.error(position(node), 'syntax-error', `cannot parse '${snippet}'`);
      return;
    }
    for (const child of node.children) visit(child);
  };
  visit(tree.rootNode);
  return count;
}
