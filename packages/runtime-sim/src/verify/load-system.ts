import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { MANIFEST_FILE, parseManifest, readBuildRecord, type Diagnostic, type SplitManifest } from '@klp-split/splitter';
import { ElfError } from '../elf/reader.js';
import { loadModuleImageCached, type ModuleImage } from '../image/module-image.js';
import { defaultKallsymsFile, vmlinuxSymbolSource } from '../kernel/object-symbols.js';
import { loadSymvers } from '../kernel/symvers.js';
import type { SimSystem } from '../kernel/system.js';
import { readLayout, type KlpLayout } from '../klp/layout.js';
import type { PartImage } from './checks.js';

export class VerifyError extends Error {}

export interface LoadedSplit {
  dir: string;
  manifest: SplitManifest;
  layout: KlpLayout;
  parts: PartImage[];
  targets: ModuleImage[];
  sys: SimSystem;
  /** Modules that could not be read (missing or invalid ELF). */
  diagnostics: Diagnostic[];
  /** The kallsyms dump used for vmlinux, if any. */
  kallsyms?: string;
}

/**
 * Reads a built split directory (manifest, build record, every .ko) and the
 * target modules into a system the simulator can instantiate kernels from.
 */
export function loadSplitSystem(dirArg: string, targetPaths: string[], kallsymsFile?: string, manifestName = MANIFEST_FILE): LoadedSplit {
  const dir = resolve(dirArg);
  const manifestPath = join(dir, manifestName);
  if (!existsSync(manifestPath)) throw new VerifyError(`${dir}: no ${MANIFEST_FILE}; run 'klp-split split' first`);
  const manifest = parseManifest(readFileSync(manifestPath, 'utf8'), manifestPath);
  const record = readBuildRecord(dir);
  if (!record) throw new VerifyError(`${dir}: not built; run 'klp-split build ${dirArg}' first`);
  if (!record.layoutModule || !existsSync(record.layoutModule)) {
    throw new VerifyError(`${dir}: the build recorded no structure layout probe; rebuild with 'klp-split build'`);
  }
  const layout = readLayout(record.layoutModule);
  const diagnostics: Diagnostic[] = [];
  const elfError = (file: string, e: unknown): void => {
    if (!(e instanceof ElfError)) throw e;
    diagnostics.push({ file, line: 0, col: 0, severity: 'error', message: e.detail, code: 'elf-invalid' });
  };

  const parts: PartImage[] = [];
  for (const part of manifest.parts) {
    const built = record.modules.find((m) => m.module === part.module);
    if (!built || !existsSync(built.ko)) {
      diagnostics.push({ file: part.file, line: 0, col: 0, severity: 'error', message: `module '${part.module}' was not built`, code: 'module-not-built' });
      continue;
    }
    try {
      parts.push({ part, image: loadModuleImageCached(built.ko) });
    } catch (e) {
      elfError(relative(dir, built.ko), e);
    }
  }
  const targets: ModuleImage[] = [];
  for (const t of targetPaths) {
    if (!existsSync(t)) throw new VerifyError(`target module ${t} does not exist`);
    try {
      targets.push(loadModuleImageCached(resolve(t)));
    } catch (e) {
      elfError(t, e);
    }
  }
  const vmlinuxExports = loadSymvers(record.symvers).vmlinux;
  const sys: SimSystem = {
    layout,
    vmlinuxExports,
    vmlinuxSymbols: vmlinuxSymbolSource(vmlinuxExports, kallsymsFile ?? defaultKallsymsFile(record.release)),
    images: [...parts.map((p) => p.image), ...targets],
  };
  return { dir, manifest, layout, parts, targets, sys, diagnostics, kallsyms: kallsymsFile ?? defaultKallsymsFile(record.release) };
}
