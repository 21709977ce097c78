import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, ROOT } from '../helpers/env.js';
import { linkedWorkspace, nx as nxIn } from '../helpers/nx-workspace.js';

/** The repository's nx.json plugin entry, as the example workspace is configured. */
const PLUGIN = (JSON.parse(readFileSync(join(ROOT, 'nx.json'), 'utf8')) as { plugins: unknown[] }).plugins[0];

let ws: string;
const nx = (args: string[]) => nxIn(args, ws);

// A copy of the example workspace (examples/, with the repository's plugin configuration): the suite builds and
// edits it, never the checkout.
beforeAll(() => {
  ws = linkedWorkspace('nx-example', PLUGIN);
  cpSync(join(ROOT, 'examples'), join(ws, 'examples'), { recursive: true, filter: (src) => !/\/(out|\.nx)(\/|$)/.test(src) });
});
afterAll(() => {
  if (ws) removeDir(ws);
});

/** Issue 2: the Nx plugin infers split/build/verify and a second run comes from the cache. */
describe('the example workspace under Nx', () => {
  it('infers the livepatch and module projects with chained, cached targets', async () => {
    const r = await nx(['show', 'project', 'klpd-fix', '--json']);
    expect(r.code, r.output).toBe(0);
    const project = JSON.parse(r.output.slice(r.output.indexOf('{')));
    expect(Object.keys(project.targets)).toEqual(expect.arrayContaining(['split', 'build', 'verify']));
    expect(project.targets.build.dependsOn).toEqual(['split']);
    expect(project.targets.verify.dependsOn).toEqual(['build', { projects: ['klpd-counter', 'klpd-parser', 'klpd-ticker'], target: 'build' }]);
    for (const t of ['split', 'build', 'verify']) {
      expect(project.targets[t].cache).toBe(true);
      expect(project.targets[t].outputs.length).toBeGreaterThan(0);
      expect(project.targets[t].metadata.description).toBeTruthy();
    }
  });

  it('runs verify over the workspace, and a second run with nothing changed is all cache hits', async () => {
    const first = await nx(['run-many', '-t', 'verify', '--output-style=static']);
    expect(first.code, first.output).toBe(0);
    expect(first.output).toContain('verify: klpd_fix: OK');
    expect(JSON.parse(readFileSync(join(ws, 'examples/livepatches/klpd-fix/out/verify.json'), 'utf8')).ok).toBe(true);
    const second = await nx(['run-many', '-t', 'verify', '--output-style=static']);
    expect(second.code, second.output).toBe(0);
    expect(second.output).toMatch(/Nx read the output from the cache instead of running the command for (\d+) out of \1 tasks/);
  });

  it('re-runs only the chain of the project whose source was touched', async () => {
    const file = join(ws, 'examples/modules/klpd-counter/klpd-counter.c');
    const original = readFileSync(file, 'utf8');
    const ran = (output: string): string[] =>
      [...output.replace(/\x1b\[[0-9;]*m/g, '').matchAll(/^> nx run (\S+)(.*)$/gm)].filter((m) => !m[2]!.includes('cache')).map((m) => m[1]!).sort();
    // On the outputs of the runs above, all in the cache.
    writeFileSync(file, `${original}/* touched by the test suite */\n`);
    const touched = await nx(['run-many', '-t', 'verify', '--output-style=static']);
    expect(touched.code, touched.output).toBe(0);
    expect(ran(touched.output)).toEqual(['klpd-counter:build', 'klpd-fix:verify']);
  });
});
