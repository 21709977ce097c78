import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
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

/** Every file under dir (its name relative to dir, in sorted order) with its bytes. */
export function snapshot(dir: string, base = dir, into = new Map<string, Buffer>()): Map<string, Buffer> {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) snapshot(path, base, into);
    else into.set(relative(base, path), readFileSync(path));
  }
  return into;
}

/** Runs the real command line; never throws on a non-zero exit. */
export async function klpSplit(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = await execa('node', [CLI, ...args], { cwd: opts.cwd ?? ROOT, reject: false, env: { CI: 'true', ...opts.env } });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** The installed kernel headers' include directories (what `klp-split split` uses to choose #includes). */
export function kernelIncludeDirs(): string[] {
  return includeDirs(discoverKernelTree());
}
