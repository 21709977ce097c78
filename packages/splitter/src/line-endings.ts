/**
 * A source with CRLF line ends is split as LF text and its output files get
 * CRLF back, so generated glue and copied items end their lines alike. Line
 * and column numbers are unchanged: a CR only ever stands before the LF.
 */
export function usesCrlf(source: string): boolean {
  const lf = (source.match(/\n/g) ?? []).length;
  const crlf = (source.match(/\r\n/g) ?? []).length;
  return crlf > 0 && crlf * 2 >= lf;
}

export function toLf(source: string): string {
  return source.replace(/\r\n/g, '\n');
}

export function toCrlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}
