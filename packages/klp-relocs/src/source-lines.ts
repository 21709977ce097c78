import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readSourceText } from '@klp-split/core';

/** A place in the C sources, for a diagnostic. */
interface SourcePlace {
  file: string;
  line: number;
  col: number;
}

/**
 * Finds, in the module's C sources, the line that declares a symbol, so
 * that a diagnostic about a relocation points at C rather than at the .ko:
 * the annotation naming it first, then an `extern` or prototype, then its
 * first use.
 */
export class SourceIndex {
  readonly #files: { file: string; lines: string[] }[] = [];

  constructor(files: readonly string[]) {
    for (const file of files) {
      if (!existsSync(file)) continue;
      this.#files.push({ file, lines: readSourceText(file).split('\n') });
    }
  }

  /** The .c and .h files of a module directory (not kbuild's generated .mod.c). */
  static ofDirectory(dir: string): SourceIndex {
    const files = existsSync(dir) && statSync(dir).isDirectory()
      ? readdirSync(dir).filter((f) => (f.endsWith('.c') || f.endsWith('.h')) && !f.endsWith('.mod.c')).sort().map((f) => join(dir, f))
      : [];
    return new SourceIndex(files);
  }

  /** Where `symbol` is declared or annotated; undefined when no source mentions it. */
  find(symbol: string, form?: 'KLP_RELOC_SYMBOL' | 'KLP_MODULE_RELOC'): SourcePlace | undefined {
    const name = escape(symbol);
    const patterns: RegExp[] = [];
    if (form === 'KLP_RELOC_SYMBOL') patterns.push(new RegExp(`KLP_RELOC_SYMBOL(?:_POS)?\\s*\\([^)]*\\b${name}\\b`));
    // An object name written with a '.' moves the rest into the symbol ('vm.linux, x' reads as object 'vm'), after the preprocessor: its last part is the C name.
    const last = symbol.slice(symbol.lastIndexOf('.') + 1);
    if (form === 'KLP_RELOC_SYMBOL' && last !== symbol && last) patterns.push(new RegExp(`KLP_RELOC_SYMBOL(?:_POS)?\\s*\\([^)]*\\b${escape(last)}\\s*[,)]`));
    if (form === 'KLP_MODULE_RELOC') patterns.push(new RegExp(`KLP_SYMPOS\\s*\\(\\s*${name}\\b`));
    patterns.push(new RegExp(`^\\s*extern\\b.*\\b${name}\\b`), new RegExp(`\\b${name}\\s*\\([^)]*\\)\\s*;`), new RegExp(`\\b${name}\\b`));
    for (const re of patterns) {
      for (const { file, lines } of this.#files) {
        for (let i = 0; i < lines.length; i++) {
          const m = re.exec(lines[i]!);
          if (!m) continue;
          const at = lines[i]!.search(new RegExp(`\\b${name}\\b`));
          return { file, line: i + 1, col: (at < 0 ? m.index : at) + 1 };
        }
      }
    }
    return undefined;
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
