import { readFileSync, statSync } from 'node:fs';

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

export interface Symvers {
  all: Map<string, ExportedSymbol>;
  /** The exports of vmlinux itself. */
  vmlinux: Map<string, ExportedSymbol>;
}

const symversCache = new Map<string, { stamp: string; symvers: Symvers }>();

/** A Module.symvers file, parsed once per process while it is unchanged (a kernel tree's has 30,000 lines). */
export function loadSymvers(path: string): Symvers {
  const st = statSync(path);
  const stamp = `${st.size}:${st.mtimeMs}`;
  const cached = symversCache.get(path);
  if (cached?.stamp === stamp) return cached.symvers;
  const all = parseSymvers(readFileSync(path, 'utf8'), path);
  const symvers = { all, vmlinux: new Map([...all].filter(([, e]) => e.module === 'vmlinux')) };
  symversCache.set(path, { stamp, symvers });
  return symvers;
}
