import type { VerifyReport } from '@klp-split/runtime-sim';

/**
 * A verify result's first finding as the matrix shows it: what differs on
 * that kernel, in a few words, with the facts the words rest on (symbol,
 * object, count) so a reader or a test can check them against the kernel.
 */
interface CellFinding {
  code: string;
  text: string;
  symbol?: string;
  object?: string;
  /** How often the symbol is in the object's symbol table. */
  count?: number;
  sympos?: number;
}

type Diagnostic = VerifyReport['diagnostics'][number];

/** The kernel, or the module on it: vmlinux is what a release is. */
const where = (object: string, kernel: string): string => (object === 'vmlinux' ? kernel : `${object} on ${kernel}`);

/**
 * Findings in runtime-sim's wording, the livepatch core's own first (the
 * simulator's klp_find_object_symbol); a finding of another shape is shown
 * as its message.
 */
const FINDINGS: { code: string; re: RegExp; text: (m: RegExpExecArray, kernel: string) => Omit<CellFinding, 'code'> }[] = [
  {
    code: 'old-name-not-found',
    re: /'([^']+)' is not in '([^']+)'/,
    // kallsyms only says the name is absent; why is a guess the words must not hide.
    text: (m, k) => ({ text: `old_name '${m[1]}' not in ${where(m[2]!, k)}: renamed, removed or inlined?`, symbol: m[1], object: m[2], count: 0 }),
  },
  {
    code: 'sympos-ambiguous',
    re: /'([^']+)' appears (\d+) times in '([^']+)'/,
    text: (m, k) => ({ text: `old_name '${m[1]}' ${m[2]} times in ${where(m[3]!, k)}: set old_sympos`, symbol: m[1], object: m[3], count: Number(m[2]) }),
  },
  {
    code: 'sympos-missing',
    re: /'([^']+)' has (\d+) occurrence\(s\) in '([^']+)', old_sympos is (\d+)/,
    text: (m, k) => ({ text: `old_sympos ${m[4]} of '${m[1]}', ${where(m[3]!, k)} has ${m[2]}`, symbol: m[1], object: m[3], count: Number(m[2]), sympos: Number(m[4]) }),
  },
  {
    code: 'object-unchecked',
    re: /was not checked against its target '([^']+)'/,
    text: (m) => ({ text: `module '${m[1]}' not checked: no built module given`, object: m[1] }),
  },
];

/** The livepatch core's reasons for refusing a patch: each explains the load failure reported beside it. */
const LOAD_REASONS = new Set(['old-name-not-found', 'sympos-ambiguous', 'sympos-missing']);

/** The finding that says why: a symbol finding explains the load failure it causes, so it goes first. */
function firstFinding(r: VerifyReport): Diagnostic | undefined {
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  return errors.find((d) => LOAD_REASONS.has(d.code)) ?? errors[0] ?? r.diagnostics[0];
}

/** Undefined for an OK result. */
export function explainCell(r: VerifyReport, kernel: string): CellFinding | undefined {
  if (r.ok) return undefined;
  const d = firstFinding(r);
  if (!d) return { code: 'failed', text: 'FAILED' };
  const s = FINDINGS.find((x) => x.code === d.code);
  const m = s?.re.exec(d.message);
  if (s && m) return { code: d.code, ...s.text(m, kernel) };
  return { code: d.code, text: `${d.message} [${d.code}]` };
}
