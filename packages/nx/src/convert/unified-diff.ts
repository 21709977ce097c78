/** A unified diff of two texts (three lines of context), for `convert --dry-run`. */
export function unifiedDiff(oldText: string | undefined, newText: string, name: string): string {
  const a = oldText === undefined ? [] : splitLines(oldText);
  const b = splitLines(newText);
  const ops = diffLines(a, b);
  const hunks: string[] = [];
  const CONTEXT = 3;
  let i = 0;
  while (i < ops.length) {
    if (ops[i]!.op === ' ') {
      i++;
      continue;
    }
    let start = Math.max(0, i - CONTEXT);
    let end = i;
    // Extend the hunk while changes are closer than twice the context.
    for (let j = i; j < ops.length; j++) {
      if (ops[j]!.op !== ' ') end = j;
      else if (j - end > 2 * CONTEXT) break;
    }
    end = Math.min(ops.length - 1, end + CONTEXT);
    const slice = ops.slice(start, end + 1);
    const aStart = ops[start]!.a;
    const bStart = ops[start]!.b;
    const aLen = slice.filter((o) => o.op !== '+').length;
    const bLen = slice.filter((o) => o.op !== '-').length;
    hunks.push(`@@ -${aLen ? aStart + 1 : aStart},${aLen} +${bLen ? bStart + 1 : bStart},${bLen} @@`);
    for (const o of slice) hunks.push(`${o.op}${o.text}`);
    i = end + 1;
    start = i;
  }
  if (!hunks.length) return '';
  return [`--- ${oldText === undefined ? '/dev/null' : `a/${name}`}`, `+++ b/${name}`, ...hunks].join('\n') + '\n';
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

interface Op {
  op: ' ' | '-' | '+';
  text: string;
  /** Index of the line in the old (a) and new (b) text where the op stands. */
  a: number;
  b: number;
}

/** Longest common subsequence by dynamic programming: source files are small. */
function diffLines(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) ops.push({ op: ' ', text: a[i]!, a: i++, b: j++ });
    else if (j < m && (i === n || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) ops.push({ op: '+', text: b[j]!, a: i, b: j++ });
    else ops.push({ op: '-', text: a[i]!, a: i++, b: j });
  }
  return ops;
}
