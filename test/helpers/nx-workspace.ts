import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ROOT, tempDir } from './env.js';

/** Nx as the suites run it: no daemon, no cloud, no terminal UI. */
export const NX_ENV = { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: 'true' };

/** `nx <args>` in `cwd` (the repository's nx); never throws on a non-zero exit. */
export async function nx(args: string[], cwd: string): Promise<{ code: number | undefined; output: string }> {
  const r = await execa(join(ROOT, 'node_modules/.bin/nx'), args, { cwd, reject: false, env: NX_ENV, all: true });
  return { code: r.exitCode, output: String(r.all) };
}

/**
 * A throwaway Nx workspace outside the checkout (no test writes into it):
 * this repository's packages and node_modules linked in, the linked
 * packages ignored as projects, nx.json loading the plugin as the
 * repository's does, with `plugin` (default: the built plugin by path).
 */
export function linkedWorkspace(name: string, plugin: unknown = './packages/nx/dist/plugin/index.js'): string {
  const ws = tempDir(name);
  symlinkSync(join(ROOT, 'packages'), join(ws, 'packages'));
  symlinkSync(join(ROOT, 'node_modules'), join(ws, 'node_modules'));
  writeFileSync(join(ws, '.nxignore'), 'packages\n');
  writeFileSync(join(ws, '.gitignore'), 'node_modules/\n.nx/\nout/\n/scratch/\n');
  writeFileSync(join(ws, 'package.json'), JSON.stringify({ name, private: true }));
  writeFileSync(join(ws, 'nx.json'), JSON.stringify({ plugins: [plugin], useDaemonProcess: false }));
  return ws;
}
