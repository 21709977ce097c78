import { join, relative } from 'node:path';
import { TOOL_NAME, TOOL_VERSION } from '@klp-split/core';
import type { VerifyReport } from './verify.js';

/** SARIF 2.1.0 for code-scanning UIs: one result per finding, located at its C source line. */
export function formatVerifySarif(reports: VerifyReport[], baseDir: string = process.cwd()): string {
  const rules = new Map<string, { id: string; shortDescription: { text: string } }>();
  const results = reports.flatMap((r) =>
    r.diagnostics.map((d) => {
      if (!rules.has(d.code)) rules.set(d.code, { id: d.code, shortDescription: { text: d.code.replace(/-/g, ' ') } });
      const uri = relative(baseDir, join(r.dir, d.file)).split('\\').join('/');
      const g = d.generated;
      // The finding is at the original source; the split file it was found in is related.
      const related = g
        ? [{ id: 1, message: { text: 'in the generated split file' }, physicalLocation: { artifactLocation: { uri: relative(baseDir, join(r.dir, g.file)).split('\\').join('/') }, ...(g.line > 0 ? { region: { startLine: g.line, ...(g.col > 0 ? { startColumn: g.col } : {}) } } : {}) } }]
        : undefined;
      return {
        ruleId: d.code,
        level: d.severity,
        message: { text: d.message },
        locations: [
          {
            physicalLocation: {
              artifactLocation: { uri },
              ...(d.line > 0 ? { region: { startLine: d.line, ...(d.col > 0 ? { startColumn: d.col } : {}) } } : {}),
            },
          },
        ],
        ...(related ? { relatedLocations: related } : {}),
      };
    }),
  );
  const log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: TOOL_NAME, version: TOOL_VERSION, rules: [...rules.values()] } },
        results,
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}
