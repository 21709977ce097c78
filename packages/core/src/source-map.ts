/**
 * Which original line each line of a generated file comes from, so findings
 * on the split files (verify, SARIF, JUnit) point at what the user wrote.
 * Stored in the manifest as `;`-separated segments `generatedLine,
 * sourceIndex,sourceLine,count,exact`: with exact 1 the count lines map one to one
 * (moved text, byte for byte), with 0 they all map to sourceLine (text the
 * split generated for that construct, e.g. the klp_object glue).
 */
type Segment = [number, number, number, number, 0 | 1];

import type { ManifestSourceMap } from './contracts/manifest.js';

/** The manifest's source map (its contract lives in @klp-split/core). */
type SourceMap = ManifestSourceMap;

/** Where one generated line came from. */
export interface LineOrigin {
  source: number;
  line: number;
  exact: boolean;
}

export function encodeLines(lines: (LineOrigin | undefined)[]): string {
  return segmentsOf(lines)
    .map((s) => s.join(','))
    .join(';');
}

function parseSegments(text: string): Segment[] {
  return text ? text.split(';').map((s) => s.split(',').map(Number) as Segment) : [];
}

function segmentsOf(lines: (LineOrigin | undefined)[]): Segment[] {
  const out: Segment[] = [];
  lines.forEach((o, i) => {
    if (!o) return;
    const gen = i + 1;
    const last = out[out.length - 1];
    if (last && last[0] + last[3] === gen && last[1] === o.source && (last[4] === 1) === o.exact && (o.exact ? last[2] + last[3] === o.line : last[2] === o.line)) {
      last[3]++;
      return;
    }
    out.push([gen, o.source, o.line, 1, o.exact ? 1 : 0]);
  });
  return out;
}

export function decodeLines(segments: string): Map<number, LineOrigin> {
  const out = new Map<number, LineOrigin>();
  for (const [gen, source, line, count, exact] of parseSegments(segments)) {
    for (let k = 0; k < count; k++) out.set(gen + k, { source, line: exact ? line + k : line, exact: exact === 1 });
  }
  return out;
}

/** The original file and line of a generated line, if the map knows it. */
export function originalLine(map: SourceMap | undefined, file: string, line: number): { file: string; line: number; exact: boolean } | undefined {
  const segments = map?.files[file];
  if (!segments || line <= 0) return undefined;
  for (const [gen, source, srcLine, count, exact] of parseSegments(segments)) {
    if (line >= gen && line < gen + count) return { file: map!.sources[source]!, line: exact ? srcLine + line - gen : srcLine, exact: exact === 1 };
  }
  return undefined;
}
