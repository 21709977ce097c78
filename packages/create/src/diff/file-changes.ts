import type { Definition, DefinitionKind, KernelFile } from '../model/kernel-file.js';

/**
 * What a fix changes in one file, by comparing the definitions of its two
 * versions (the syntax, not the hunks' line ranges): a definition is the
 * same when its tokens and its enclosing conditionals are, so a change in a
 * comment or in the layout changes nothing, and a change inside a function
 * is that function's.
 */

export type ChangeKind = 'changed' | 'added' | 'removed';

export interface Change {
  kind: ChangeKind;
  /** The definition's kind (of the new version, or the old one when removed). */
  what: DefinitionKind;
  name?: string;
  before?: Definition;
  after?: Definition;
}

export interface FileChanges {
  path: string;
  before?: KernelFile;
  after?: KernelFile;
  changes: Change[];
}

/** Definitions that pair by name: a function with the function of that name, and so on. */
const NAMED: DefinitionKind[] = ['function', 'variable', 'type', 'macro', 'prototype'];

function identity(d: Definition): string {
  return `${d.kind}:${d.name ?? ''}`;
}

function condKey(d: Definition): string {
  return d.conds.map((c) => c.branch).join(' / ');
}

function same(a: Definition, b: Definition): boolean {
  return a.key === b.key && condKey(a) === condKey(b);
}

/** Pairs named definitions by kind, name and rank among equals; the rest by their text. */
export function compareFiles(path: string, before: KernelFile | undefined, after: KernelFile | undefined): FileChanges {
  const changes: Change[] = [];
  const old = before?.defs ?? [];
  const neu = after?.defs ?? [];
  const group = (defs: Definition[]): Map<string, Definition[]> => {
    const m = new Map<string, Definition[]>();
    for (const d of defs) {
      if (!NAMED.includes(d.kind) || !d.name) continue;
      const list = m.get(identity(d)) ?? [];
      list.push(d);
      m.set(identity(d), list);
    }
    return m;
  };
  const oldNamed = group(old);
  const newNamed = group(neu);
  for (const [id, list] of newNamed) {
    const prev = oldNamed.get(id) ?? [];
    list.forEach((d, k) => {
      const b = prev[k];
      if (!b) changes.push({ kind: 'added', what: d.kind, name: d.name, after: d });
      else if (!same(b, d)) changes.push({ kind: 'changed', what: d.kind, name: d.name, before: b, after: d });
    });
    prev.slice(list.length).forEach((b) => changes.push({ kind: 'removed', what: b.kind, name: b.name, before: b }));
  }
  for (const [id, prev] of oldNamed) if (!newNamed.has(id)) prev.forEach((b) => changes.push({ kind: 'removed', what: b.kind, name: b.name, before: b }));

  // Includes, top-level macro calls, and what the grammar could not read: as a multiset of texts.
  const unnamed = (defs: Definition[]): Definition[] => defs.filter((d) => !(NAMED.includes(d.kind) && d.name));
  const counts = new Map<string, Definition[]>();
  for (const d of unnamed(old)) counts.set(d.key + condKey(d), [...(counts.get(d.key + condKey(d)) ?? []), d]);
  for (const d of unnamed(neu)) {
    const list = counts.get(d.key + condKey(d));
    if (list?.length) list.shift();
    else changes.push({ kind: 'added', what: d.kind, name: d.name, after: d });
  }
  for (const list of counts.values()) for (const b of list) changes.push({ kind: 'removed', what: b.kind, name: b.name, before: b });
  changes.sort((a, b) => (a.after?.start ?? a.before?.start ?? 0) - (b.after?.start ?? b.before?.start ?? 0));
  return { path, before, after, changes };
}
