/** One line of Module.symvers: `crc<TAB>symbol<TAB>module<TAB>export type<TAB>namespace`. */
export interface ExportedSymbol {
  name: string;
  crc: number;
  module: string;
  type: string;
  namespace: string;
}

export class SymversError extends Error {}

export function parseSymvers(text: string, file: string): Map<string, ExportedSymbol> {
  const out = new Map<string, ExportedSymbol>();
  text.split('\n').forEach((line, i) => {
    if (line === '') return;
    const f = line.split('\t');
    if (f.length < 4 || !/^0x[0-9a-f]+$/i.test(f[0]!)) throw new SymversError(`${file}:${i + 1}: not a Module.symvers line: '${line.slice(0, 60)}'`);
    out.set(f[1]!, { name: f[1]!, crc: Number(f[0]), module: f[2]!, type: f[3]!, namespace: f[4] ?? '' });
  });
  return out;
}
