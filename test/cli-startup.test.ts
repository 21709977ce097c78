import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from './helpers/env.js';

/**
 * The built command line, run under a probe that lists the CommonJS modules
 * Node loaded (tree-sitter and its C grammar are CommonJS with native
 * bindings): verify and build of a directory start without the C parser;
 * split loads it (the probe sees it when it is there).
 */
const scratch = mkdtempSync(join(tmpdir(), 'klp-split-startup-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const probe = join(scratch, 'probe.mjs');
writeFileSync(
  probe,
  `import { createRequire } from 'node:module';
const require = createRequire('/');
process.on('exit', () => process.stderr.write('\\n@@loaded ' + JSON.stringify(Object.keys(require.cache)) + '\\n'));
`,
);

async function loadedBy(args: string[]): Promise<{ code: number; stderr: string; treeSitter: string[] }> {
  const r = await execa('node', ['--import', probe, CLI, ...args], { reject: false, env: { CI: 'true' } });
  const line = String(r.stderr)
    .split('\n')
    .find((l) => l.startsWith('@@loaded '));
  if (!line) throw new Error(`the probe did not report:\n${r.stderr}`);
  const modules = JSON.parse(line.slice('@@loaded '.length)) as string[];
  return { code: r.exitCode ?? -1, stderr: String(r.stderr), treeSitter: modules.filter((m) => /[\\/]tree-sitter(-c)?[\\/]/.test(m)) };
}

describe('what a command loads', () => {
  const empty = join(scratch, 'empty');
  mkdirSync(empty);

  it('verify of a directory does not load tree-sitter', async () => {
    const r = await loadedBy(['verify', empty]);
    expect(r.stderr).toContain('klp-split.json');
    expect(r.code).toBe(2);
    expect(r.treeSitter).toEqual([]);
  });

  it('build of a directory does not load tree-sitter', async () => {
    const r = await loadedBy(['build', empty]);
    expect(r.stderr).toContain('has neither klp-split.json nor .c files');
    expect(r.code).toBe(2);
    expect(r.treeSitter).toEqual([]);
  });

  it('split loads it (the probe sees the parser when it is loaded)', async () => {
    const r = await loadedBy(['split', '--help']);
    expect(r.code).toBe(0);
    expect(r.treeSitter.length).toBeGreaterThan(0);
  });
});
