import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { discoverKernelTree, includeDirs, kernelEnv } from '@klp-split/kernel-facts';

/** Repository root. */
export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'packages/nx/bin/klp-split.js');

/** The extracted linux-source-6.1 corpus (samples/livepatch, lib/livepatch, ...). */
export function corpus(): string {
  return kernelEnv().KLP_CORPUS;
}

export function samples(file = ''): string {
  return join(corpus(), 'samples/livepatch', file);
}

export function libLivepatch(file = ''): string {
  return join(corpus(), 'lib/livepatch', file);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `klp-split-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Runs the real command line; never throws on a non-zero exit. */
export async function klpSplit(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = await execa('node', [CLI, ...args], { cwd: opts.cwd ?? ROOT, reject: false, env: { CI: 'true', ...opts.env } });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Builds unmodified corpus modules (targets) into a fresh directory; returns their .ko paths by file name. */
export async function buildCorpusModules(sources: string[]): Promise<{ dir: string; ko: (name: string) => string }> {
  const dir = tempDir('targets');
  mkdirSync(dir, { recursive: true });
  for (const s of sources) cpSync(s, join(dir, s.replace(/^.*\//, '')));
  const r = await klpSplit(['build', dir]);
  if (r.code !== 0) throw new Error(`building targets failed:\n${r.stdout}\n${r.stderr}`);
  return { dir, ko: (name) => join(dir, name.replace(/\.c$/, '').concat('.ko')) };
}

/** The installed kernel headers' include directories (what `klp-split split` uses to choose #includes). */
export function kernelIncludeDirs(): string[] {
  return includeDirs(discoverKernelTree());
}
