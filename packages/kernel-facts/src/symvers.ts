import { statSync } from 'node:fs';
import { KlpError, readInputText } from '@klp-split/core';

/** One line of Module.symvers: `crc<TAB>symbol<TAB>module<TAB>export type<TAB>namespace`. */
export interface ExportedSymbol {
  name: string;
  crc: number;
  module: string;
  type: string;
  namespace: string;
}

/** A malformed Module.symvers. The message never quotes the file's content: it may not be a symvers at all. */
class SymversError extends KlpError {
  constructor(message: string, file: string, line?: number) {
    super(message, { code: 'symvers-invalid', file, line });
    this.name = 'SymversError';
  }
}

const CRC = /^0x[0-9a-f]{1,16}$/i;

export function parseSymvers(text: string, file: string): Map<string, ExportedSymbol> {
  const out = new Map<string, ExportedSymbol>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const f = line.split('\t');
    if (f.length < 4 || !CRC.test(f[0]!) || f[1] === '') {
      throw new SymversError('not a Module.symvers line (expected crc, symbol, module and export type separated by tabs)', file, i + 1);
    }
    out.set(f[1]!, { name: f[1]!, crc: Number(f[0]), module: f[2]!, type: f[3]!, namespace: f[4] ?? '' });
  }
  return out;
}

interface Symvers {
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
  const all = parseSymvers(readInputText(path, 'symbols', { what: 'Module.symvers' }), path);
  const symvers = { all, vmlinux: new Map([...all].filter(([, e]) => e.module === 'vmlinux')) };
  symversCache.set(path, { stamp, symvers });
  return symvers;
}
