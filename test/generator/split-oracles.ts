import { parseC, type SplitResult } from '@klp-split/splitter';
import type { GeneratedLivepatch } from './livepatch-gen.js';

/**
 * What must hold of the split of a generated livepatch, checked on the
 * split's text alone (no compiler): the split succeeds (or refuses with the
 * diagnostic the generator expects), every file parses, every part's
 * preprocessor is balanced and repeats no block, the file header opens every
 * part, comments stay with what they describe, every name a part uses is
 * declared in it or in a header it includes, and no part references a
 * symbol of an object other than its own (the main part: vmlinux's; a
 * per-object part: its target's and vmlinux's; both may use what the main
 * part exports).
 */
export interface Finding {
  rule: 'kind' | 'diagnostics' | 'parse' | 'preprocessor' | 'header' | 'comments' | 'declared' | 'placement' | 'includes';
  detail: string;
}

/** Warnings a correct split of a generated livepatch may give. */
const ALLOWED_WARNINGS = new Set(['shared-mutable-state', 'exit-statement-shared', 'missing-livepatch-modinfo', 'obj-mod-meaning']);

const DIRECTIVE = /^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|else|endif)\b/;

/** Code without comments and string literals, offsets kept. */
export function codeOnly(text: string): string {
  return text.replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (m) => m.replace(/[^\n]/g, ' '));
}

/** Balanced `#if`/`#endif`, `#else`/`#elif` only inside a block and never after its `#else`. */
export function preprocessorProblems(text: string): string[] {
  const problems: string[] = [];
  const stack: { sawElse: boolean; line: number }[] = [];
  codeOnly(text)
    .split('\n')
    .forEach((l, i) => {
      const m = DIRECTIVE.exec(l);
      if (!m) return;
      const kind = m[1]!;
      if (kind.startsWith('if')) stack.push({ sawElse: false, line: i + 1 });
      else if (!stack.length) problems.push(`line ${i + 1}: #${kind} outside any block`);
      else if (kind === 'endif') stack.pop();
      else if (stack[stack.length - 1]!.sawElse) problems.push(`line ${i + 1}: #${kind} after #else`);
      else if (kind === 'else') stack[stack.length - 1]!.sawElse = true;
    });
  for (const open of stack) problems.push(`line ${open.line}: #if never closed`);
  return problems;
}

/** How many times each opening or branch directive line occurs. */
function directiveCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const l of text.split('\n')) if (/^[ \t]*#[ \t]*(if|ifdef|ifndef|elif)\b/.test(l)) counts.set(l.trim(), (counts.get(l.trim()) ?? 0) + 1);
  return counts;
}

/** Top-level lines that declare or define `name` (the generator's shapes). */
function declares(line: string, name: string): boolean {
  if (/^\s/.test(line) || !new RegExp(`\\b${name}\\b`).test(line)) return false;
  if (/^#\s*define\s+(\w+)/.exec(line)?.[1] === name) return true;
  if (new RegExp(`^struct ${name}\\b`).test(line)) return true;
  return /^[A-Za-z_]/.test(line) && !/^(?:module_param|module_init|module_exit|EXPORT_SYMBOL|MODULE_)/.test(line);
}

export function checkSplit(gen: GeneratedLivepatch, r: SplitResult): Finding[] {
  const findings: Finding[] = [];
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  const say = (d: (typeof r.diagnostics)[number]): string => `${d.line}:${d.col}: ${d.severity}: ${d.message} [${d.code}]`;
  if (gen.refusal) {
    if (r.kind !== 'invalid' || !errors.some((d) => d.code === gen.refusal)) findings.push({ rule: 'kind', detail: `expected a refusal [${gen.refusal}], got ${r.kind}: ${r.diagnostics.map(say).join(' | ')}` });
    return findings;
  }
  if (r.kind !== 'split') {
    // A helper several objects run that reaches one object's symbol cannot be placed: a refusal at its line is right.
    if (!(gen.crossObject && r.kind === 'invalid' && errors.length)) findings.push({ rule: 'kind', detail: `${r.kind}: ${r.diagnostics.map(say).join(' | ')}` });
    return findings;
  }
  for (const d of r.diagnostics) {
    if (d.severity === 'error' || (d.severity === 'warning' && !ALLOWED_WARNINGS.has(d.code))) findings.push({ rule: 'diagnostics', detail: say(d) });
  }
  // A CRLF source gives CRLF files throughout; the other rules read them as LF.
  if (gen.source.includes('\r\n')) {
    for (const [f, text] of r.files) if (/\.[ch]$/.test(f) && /(?<!\r)\n/.test(text)) findings.push({ rule: 'parse', detail: `${f} mixes LF into a CRLF split` });
    r = { ...r, files: new Map([...r.files].map(([f, t]) => [f, t.replace(/\r\n/g, '\n')])) };
    gen = { ...gen, source: gen.source.replace(/\r\n/g, '\n') };
  }
  const manifest = r.manifest!;
  const objects = manifest.parts.map((p) => p.object);
  const expectObjects = [...new Set(['vmlinux', ...gen.modules])];
  if (objects.join() !== expectObjects.join()) findings.push({ rule: 'kind', detail: `parts ${objects.join(',')}, expected ${expectObjects.join(',')}` });

  const original = directiveCounts(gen.source);
  // The shared header's include guard is the split's own.
  if (manifest.header) original.set(`#ifndef _${manifest.header.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`, 1);
  // An export the split renamed (`<patch>_<name>`) is checked under its new name too.
  const checked = gen.entities.flatMap((e) => [e, ...(manifest.exports ?? []).filter((x) => x.endsWith(`_${e.name}`) && x !== e.name).map((x) => ({ ...e, name: x }))]);
  const spdx = gen.source.split('\n')[0]!;
  const files = [...r.files].filter(([f]) => /\.[ch]$/.test(f) && !gen.headers.has(f));
  for (const [file, text] of files) {
    if (parseC(text).rootNode.hasError) findings.push({ rule: 'parse', detail: `${file} does not parse` });
    for (const p of preprocessorProblems(text)) findings.push({ rule: 'preprocessor', detail: `${file}: ${p}` });
    for (const [line, n] of directiveCounts(text)) {
      // The glue's own condition aside (an object under #if), no block is opened more often than in the original.
      if (n > (original.get(line) ?? 0)) findings.push({ rule: 'preprocessor', detail: `${file}: '${line}' ${n} times, ${original.get(line) ?? 0} in the original` });
    }
    if (file.endsWith('.c') && !text.startsWith(spdx)) findings.push({ rule: 'header', detail: `${file} does not open with '${spdx}'` });
  }

  // The files of each part, and what each includes (the shared header, local headers).
  const partFiles = new Map<string, string[]>(manifest.parts.map((p) => [p.object, p.files ?? [p.file]]));
  const included = (text: string): string[] => [...text.matchAll(/^#include "([^"]+)"/gm)].map((m) => m[1]!).filter((h) => r.files.has(h));
  for (const [object, fileNames] of partFiles) {
    for (const name of fileNames) {
      const text = r.files.get(name) ?? '';
      const visible = [text, ...included(text).map((h) => r.files.get(h)!)];
      const lines = visible.flatMap((t) => t.split('\n'));
      const code = codeOnly(text);
      const codeLines = code.split('\n');
      for (const e of checked) {
        const re = new RegExp(`\\b${e.name}\\b`);
        if (!re.test(code)) continue;
        // Used where it is not declared: on a line of code that does not declare it.
        const usedAt = codeLines.findIndex((l, i) => re.test(l) && !declares(text.split('\n')[i]!, e.name) && !/KLP_RELOC_SYMBOL|^(?:module_param|MODULE_PARM_DESC)/.test(l));
        if (usedAt >= 0 && !lines.some((l) => declares(l, e.name))) findings.push({ rule: 'declared', detail: `${name} uses '${e.name}' (line ${usedAt + 1}) without declaring it` });
        // Code or data a per-object part reaches through the shared header is the main part's, exported.
        // (A header that defines it, static inline, needs no export.)
        const own = text.split('\n').some((l) => declares(l, e.name)) || lines.some((l) => declares(l, e.name) && /^static\b/.test(l));
        const mainText = r.files.get(manifest.parts[0]!.file) ?? '';
        if (object !== 'vmlinux' && usedAt >= 0 && !own && (e.kind === 'function' || e.kind === 'variable' || e.kind === 'param') && !new RegExp(`^EXPORT_SYMBOL(?:_GPL)?\\(${e.name}\\);`, 'm').test(mainText)) {
          findings.push({ rule: 'declared', detail: `${name} uses '${e.name}' from the shared header, which the main part does not export` });
        }
        // The placement rule, also for the code several objects share that reaches one object's symbol (the split
        // must then refuse, or keep that code out of the other parts).
        if (e.owner && e.owner !== object && e.owner !== 'vmlinux' && usedAt >= 0) findings.push({ rule: 'placement', detail: `${name} (part '${object}') uses '${e.name}' of '${e.owner}' (line ${usedAt + 1})` });
        // A comment above a definition goes with it.
        const defines = text.split('\n').findIndex((l) => declares(l, e.name) && !/^extern\b/.test(l) && !l.endsWith(');'));
        if (e.comment && defines >= 0 && !text.includes(e.comment)) findings.push({ rule: 'comments', detail: `${name} defines '${e.name}' without its comment ${e.comment}` });
        if (e.kind === 'function' && defines >= 0 && /\{$|\)$/.test(text.split('\n')[defines]!) && gen.source.includes(`/* in ${e.name} */`) && !text.includes(`/* in ${e.name} */`)) findings.push({ rule: 'comments', detail: `${name} lost the comment inside '${e.name}'` });
      }
      if (/\b(?:LINUX_VERSION_CODE|KERNEL_VERSION)\b/.test(codeOnly(visible.join('\n'))) && !/^#include <linux\/version\.h>/m.test(text)) findings.push({ rule: 'includes', detail: `${name} tests LINUX_VERSION_CODE without including linux/version.h` });
    }
  }
  return findings;
}
