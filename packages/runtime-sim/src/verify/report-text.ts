import { formatDiagnostic } from '@klp-split/splitter';
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
    lines.push(`explored every load/unload interleaving of the patch and ${r.modules.filter((m) => m.role === 'target').length} target(s): ${e.interleavings} interleavings, ${e.steps} steps, ${e.violations} violation(s), ${e.ms} ms`);
  }
  for (const d of r.diagnostics) lines.push(formatDiagnostic(d));
  const errors = r.diagnostics.filter((d) => d.severity === 'error').length;
  lines.push(r.ok ? `verify: ${r.patch}: OK` : `verify: ${r.patch}: FAILED (${errors} error${errors === 1 ? '' : 's'})`);
  return `${lines.join('\n')}\n`;
}
