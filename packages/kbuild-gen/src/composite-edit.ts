/**
 * The one non-additive Makefile edit of `convert`: a livepatch module built
 * from several files whose split main module no longer needs one of them
 * (all its code went to per-object modules) stops linking it. The object is
 * taken out of the `<module>-y` / `<module>-objs` lines; every other byte
 * stays. Input is LF text (latin1 for bytes that are not UTF-8).
 */

interface CompositeEdit {
  text: string;
  /** 1-based lines that lost an object, with the object. */
  removed: { line: number; object: string }[];
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function dropFromComposite(text: string, module: string, objects: string[]): CompositeEdit {
  const lines = text.split('\n');
  const removed: CompositeEdit['removed'] = [];
  const head = new RegExp(`^\\s*${escape(module)}-(?:y|objs)\\s*(?:\\+=|:=|=)`);
  for (let i = 0; i < lines.length; i++) {
    if (!head.test(lines[i]!)) continue;
    // The statement goes on while its lines end in a backslash.
    for (let j = i; j < lines.length; j++) {
      for (const o of objects) {
        const token = new RegExp(`([ \\t]+|(?<==))${escape(o)}(?=[ \\t\\\\#]|$)`);
        const before = lines[j]!;
        const after = before.replace(token, '');
        if (after !== before) {
          lines[j] = after;
          removed.push({ line: j + 1, object: o });
        }
      }
      if (!lines[j]!.endsWith('\\')) break;
    }
  }
  return { text: lines.join('\n'), removed };
}
