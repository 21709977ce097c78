import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { builtParts, KlpError, MANIFEST_FILE, readBuildRecord, readManifest, staleness, type SplitManifest } from '@klp-split/core';
import type { Diagnostic } from '@klp-split/core';
import { ElfError, loadSymvers, defaultKallsymsFile } from '@klp-split/kernel-facts';
import { loadModuleImageCached, type ModuleImage } from '../image/module-image.js';
import { vmlinuxSymbolSource } from '../kernel/object-symbols.js';
import type { SimSystem } from '../kernel/system.js';
import { readLayout, type KlpLayout } from '../klp/layout.js';
import type { PartImage } from './checks.js';

/** A split directory verify cannot work on (not split, not built): an input error with a hint. */
export class VerifyError extends KlpError {
  constructor(message: string, opts: { file?: string; hint?: string; code?: string } = {}) {
    super(message, { code: opts.code ?? 'verify-input', file: opts.file, hint: opts.hint });
    this.name = 'VerifyError';
  }
}

interface LoadedSplit {
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
 * The manifest and build record are checked against their schemas and every
 * path in them is confined before a file is opened (@klp-split/core).
 */
export function loadSplitSystem(dirArg: string, targetPaths: string[], kallsymsFile?: string, manifestName = MANIFEST_FILE): LoadedSplit {
  const dir = resolve(dirArg);
  const manifestPath = join(dir, manifestName);
  if (!existsSync(manifestPath)) throw new VerifyError(`no ${manifestName}`, { file: dirArg, code: 'not-split', hint: "run 'klp-split split' first" });
  const manifest = readManifest(manifestPath);
  const record = readBuildRecord(dir);
  if (!record) throw new VerifyError('not built', { file: dirArg, code: 'not-built', hint: `run 'klp-split build ${dirArg}' first` });
  const stale = staleness(dir, record);
  if (stale) throw new VerifyError(`stale: ${stale}`, { file: dirArg, code: 'stale', hint: `run 'klp-split build ${dirArg}' again (and fix what fails) before verifying` });
  if (!record.layoutModule || !existsSync(record.layoutModule)) {
    throw new VerifyError('the build recorded no structure layout probe', { file: dirArg, code: 'not-built', hint: "rebuild with 'klp-split build'" });
  }
  const layout = readLayout(record.layoutModule);
  const diagnostics: Diagnostic[] = [];
  const elfError = (file: string, e: unknown): void => {
    if (!(e instanceof ElfError)) throw e;
    diagnostics.push({ file, line: 0, col: 0, severity: 'error', message: e.detail, code: e.code });
  };

  const built = new Map(record.modules.map((m) => [m.module, m.ko]));
  const parts: PartImage[] = [];
  // A part the configuration leaves out (under `#if` in the klp_object array) is not built.
  for (const part of builtParts(manifest)) {
    const ko = built.get(part.module);
    if (!ko || !existsSync(ko)) {
      diagnostics.push({ file: part.file, line: 0, col: 0, severity: 'error', message: `module '${part.module}' was not built`, code: 'module-not-built' });
      continue;
    }
    try {
      parts.push({ part, image: loadModuleImageCached(ko) });
    } catch (e) {
      elfError(relative(dir, ko), e);
    }
  }
  const targets: ModuleImage[] = [];
  for (const t of targetPaths) {
    if (!existsSync(t)) throw new VerifyError('target module does not exist', { file: t, code: 'target-missing' });
    try {
      targets.push(loadModuleImageCached(resolve(t)));
    } catch (e) {
      elfError(t, e);
    }
  }
  const vmlinuxExports = loadSymvers(record.symvers).vmlinux;
  const kallsyms = kallsymsFile ?? defaultKallsymsFile(record.release);
  const sys: SimSystem = {
    layout,
    vmlinuxExports,
    vmlinuxSymbols: vmlinuxSymbolSource(vmlinuxExports, kallsyms),
    images: [...parts.map((p) => p.image), ...targets],
  };
  return { dir, manifest, layout, parts, targets, sys, diagnostics, kallsyms };
}
