import { formatDiagnostic } from '@klp-split/core';
import type { VerifyReport } from './verify.js';

/** The human-readable verify report: modules, transcript, findings, verdict. */
export function formatVerifyText(r: VerifyReport): string {
  const lines: string[] = [];
  lines.push(`patch ${r.patch}: ${r.modules.length} modules`);
  for (const m of r.modules) lines.push(`  ${m.role.padEnd(10)} ${m.module}`);
  lines.push(`vmlinux symbols: ${r.vmlinuxSymbols}`);
  lines.push('transcript:');
  for (const l of r.transcript) lines.push(`  ${l}`);
  if (r.exploration) {
    const e = r.exploration;
    const targets = r.modules.filter((m) => m.role === 'target').length;
    const others = (e.patches ?? []).slice(1);
    lines.push(
      `model check of the patch${others.length ? ` with ${others.join(', ')} (loaded once each)` : ''} and ${targets} target(s) (${e.groups.length} group(s) of dependent targets; each target loaded and removed up to ${e.bounds.targetLoads} time(s), once in a group of dependent targets, the patch up to ${e.bounds.patchLoads}): ` +
        `${e.states} states, ${e.transitions} transitions, ${e.violations} distinct violation(s), ${e.complete ? 'complete' : `INCOMPLETE (${e.stoppedBy} budget; ${e.groupsComplete}/${e.groups.length} groups done)`}, ${e.ms} ms`,
    );
  }
  for (const d of r.diagnostics) lines.push(formatDiagnostic(d));
  for (const c of r.exploration?.counterexamples ?? []) {
    lines.push(`counterexample for [${c.code}]${c.file ? ` (${c.file})` : ''}:`);
    for (const l of c.scenario.trimEnd().split('\n')) lines.push(`  ${l}`);
  }
  const errors = r.diagnostics.filter((d) => d.severity === 'error').length;
  lines.push(r.ok ? `verify: ${r.patch}: OK` : `verify: ${r.patch}: FAILED (${errors} error${errors === 1 ? '' : 's'})`);
  return `${lines.join('\n')}\n`;
}
