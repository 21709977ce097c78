import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { MANIFEST_FILE, parseManifest, readBuildRecord, type Diagnostic, type SplitManifest } from '@klp-split/splitter';
import { ElfError } from '../elf/reader.js';
import { loadModuleImage, type ModuleImage } from '../image/module-image.js';
import { SimKernel, type SimEvent } from '../kernel/kernel.js';
import { exportsSymbolSource } from '../kernel/object-symbols.js';
import { parseSymvers } from '../kernel/symvers.js';
import { readLayout } from '../klp/layout.js';
import { SplitChecks, type PartImage } from './checks.js';

export interface VerifyOptions {
  /** Target modules (.ko) the patch fixes, built from their unmodified sources. */
  targets: string[];
}

export interface VerifyReport {
  ok: boolean;
  patch: string;
  dir: string;
  diagnostics: Diagnostic[];
  /** The scenario's commands and the kernel log, in the kernel's wording. */
  transcript: string[];
  modules: { module: string; file: string; role: 'main' | 'per-object' | 'target' }[];
}

export class VerifyError extends Error {}

/** Events the simulated kernel reports that only inform. */
const NOTE_EVENTS = new Set(['symbol-unchecked']);

/**
 * Verifies a built split livepatch: static checks of every module's ELF
 * data, then the load scenario "load the targets, load the patch (which
 * requests its per-object modules), disable, unload" in the simulated kernel.
 */
export function verifySplit(dirArg: string, opts: VerifyOptions): VerifyReport {
  const dir = resolve(dirArg);
  const manifestPath = join(dir, MANIFEST_FILE);
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
      parts.push({ part, image: loadModuleImage(built.ko) });
    } catch (e) {
      elfError(relative(dir, built.ko), e);
    }
  }
  const targets: ModuleImage[] = [];
  for (const t of opts.targets) {
    if (!existsSync(t)) throw new VerifyError(`target module ${t} does not exist`);
    try {
      targets.push(loadModuleImage(resolve(t)));
    } catch (e) {
      elfError(t, e);
    }
  }

  const checks = new SplitChecks(dir, manifest, layout);
  checks.run(parts, targets);
  diagnostics.push(...checks.diagnostics);

  const exports = parseSymvers(readFileSync(record.symvers, 'utf8'), record.symvers);
  const vmlinuxExports = new Map([...exports].filter(([, e]) => e.module === 'vmlinux'));
  const kernel = new SimKernel({
    layout,
    vmlinuxExports,
    vmlinuxSymbols: exportsSymbolSource(vmlinuxExports),
    extraVmlinuxExports: ['klp_add_object'],
  });
  for (const p of parts) kernel.install(p.image);
  for (const t of targets) kernel.install(t);
  runLoadScenario(kernel, manifest, targets, diagnostics);
  diagnostics.push(...eventDiagnostics(kernel.events, manifest));

  return {
    ok: !diagnostics.some((d) => d.severity === 'error'),
    patch: manifest.patch,
    dir,
    diagnostics,
    transcript: kernel.log,
    modules: [
      ...parts.map((p) => ({ module: p.image.name, file: relative(dir, p.image.path), role: p.part.object === 'vmlinux' ? ('main' as const) : ('per-object' as const) })),
      ...targets.map((t) => ({ module: t.name, file: t.path, role: 'target' as const })),
    ],
  };
}

function runLoadScenario(kernel: SimKernel, manifest: SplitManifest, targets: ModuleImage[], diagnostics: Diagnostic[]): void {
  const mainFile = manifest.parts[0]?.file ?? manifest.source;
  const finding = (code: string, message: string): void => {
    diagnostics.push({ file: mainFile, line: 0, col: 0, severity: 'error', message, code });
  };
  for (const t of targets) kernel.modprobeCommand(t.name);
  const err = kernel.modprobeCommand(manifest.patch);
  if (err) {
    finding('patch-load-failed', `loading '${manifest.patch}' after its targets failed (${err})`);
    return;
  }
  for (const t of targets) {
    if (!manifest.objNames.includes(t.name)) continue;
    const part = `${manifest.patch}__${t.name}`;
    if (!kernel.isLoaded(part)) finding('per-object-not-loaded', `'${t.name}' is loaded and the patch is enabled, but '${part}' is not loaded`);
  }
  kernel.log.push(`% echo 0 > /sys/kernel/livepatch/${manifest.patch}/enabled`);
  kernel.livepatch.disable(manifest.patch);
  kernel.rmmodCommand(manifest.patch);
  for (const t of [...targets].reverse()) kernel.rmmodCommand(t.name);
  const leaked = [...kernel.modules.keys()];
  if (leaked.length) finding('leaked-module', `still loaded after disabling the patch and unloading everything: ${leaked.join(', ')}`);
}

function eventDiagnostics(events: SimEvent[], manifest: SplitManifest): Diagnostic[] {
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const e of events) {
    const key = `${e.code}:${e.module}:${e.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const part = manifest.parts.find((p) => p.module === e.module);
    out.push({
      file: part?.file ?? e.module ?? manifest.source,
      line: 0,
      col: 0,
      severity: NOTE_EVENTS.has(e.code) ? 'note' : 'error',
      message: `simulated load: ${e.message}`,
      code: e.code,
    });
  }
  return out;
}
