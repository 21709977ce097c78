import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ROOT, tempDir } from './env.js';

export const NX_ENV = { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: 'true' };

/**
 * A throwaway Nx workspace using this repository's packages and
 * node_modules (linked in, the plugin loaded from its dist as nx.json loads
 * it here): Nx and the plugin as they are built, no npm install.
 */
export function linkedNxWorkspace(prefix: string): { ws: string; nx: (args: string[]) => Promise<{ code: number; output: string }> } {
  const ws = tempDir(prefix);
  symlinkSync(join(ROOT, 'packages'), join(ws, 'packages'));
  symlinkSync(join(ROOT, 'node_modules'), join(ws, 'node_modules'));
  // The linked packages are the tool, not projects of this workspace.
  writeFileSync(join(ws, '.nxignore'), 'packages\n');
  writeFileSync(join(ws, 'package.json'), JSON.stringify({ name: `${prefix}-ws`, private: true }));
  writeFileSync(join(ws, 'nx.json'), JSON.stringify({ plugins: ['./packages/nx/dist/plugin/index.js'], useDaemonProcess: false }));
  const nx = async (args: string[]) => {
    const r = await execa(join(ROOT, 'node_modules/.bin/nx'), args, { cwd: ws, reject: false, env: NX_ENV, all: true });
    return { code: r.exitCode ?? -1, output: String(r.all).replace(/\x1b\[[0-9;]*m/g, '') };
  };
  return { ws, nx };
}
