import { formatDiagnostic } from '@klp-split/core';
import type { VerifyReport } from './verify.js';

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Case {
  name: string;
  failures: string[];
}

/** The test cases of one report: one per module, one for the load scenario, one for the exploration. */
function casesOf(r: VerifyReport): Case[] {
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  const owned = new Set<string>();
  const cases: Case[] = r.modules
    .filter((m) => m.role !== 'target')
    .map((m) => {
      const source = m.file.replace(/\.ko$/, '.c');
      const failures = errors.filter((d) => (d.generated?.file ?? d.file) === source || d.file === m.file).map(formatDiagnostic);
      for (const f of failures) owned.add(f);
      return { name: `module ${m.module}`, failures };
    });
  const isExploration = (code: string): boolean => /^(patched-while-unloaded|per-object-|stale-per-object|leaked-|modprobe-loop|refused-for-|model-check-)/.test(code);
  const rest = errors.map((d) => ({ d, text: formatDiagnostic(d) })).filter((x) => !owned.has(x.text));
  cases.push({ name: 'scenario: load targets, load patch, disable, unload', failures: rest.filter((x) => !isExploration(x.d.code)).map((x) => x.text) });
  if (r.exploration) {
    cases.push({
      name: `model check: ${r.exploration.states} states, ${r.exploration.complete ? 'complete' : 'incomplete'}`,
      failures: rest.filter((x) => isExploration(x.d.code)).map((x) => x.text),
    });
  }
  return cases;
}

/** JUnit XML: a test suite per patch, a test case per module and per scenario. */
export function formatVerifyJunit(reports: VerifyReport[]): string {
  const suites = reports.map((r) => {
    const cases = casesOf(r);
    const failed = cases.filter((c) => c.failures.length).length;
    const body = cases
      .map((c) => {
        const inner = c.failures.length ? `\n      <failure message="${xml(c.failures[0]!)}">${xml(c.failures.join('\n'))}</failure>\n    ` : '';
        return `    <testcase classname="klp-split.${xml(r.patch)}" name="${xml(c.name)}">${inner}</testcase>`;
      })
      .join('\n');
    return `  <testsuite name="${xml(r.patch)}" tests="${cases.length}" failures="${failed}" errors="0">\n${body}\n  </testsuite>`;
  });
  const tests = reports.reduce((n, r) => n + casesOf(r).length, 0);
  const failures = reports.reduce((n, r) => n + casesOf(r).filter((c) => c.failures.length).length, 0);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="klp-split verify" tests="${tests}" failures="${failures}">\n${suites.join('\n')}\n</testsuites>\n`;
}
