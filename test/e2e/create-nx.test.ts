import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_FIXTURES } from '../helpers/create-fixtures.js';
import { removeDir, tempDir } from '../helpers/env.js';
import { createUserWorkspace, nxCacheHits, nxTaskLines, run } from '../helpers/user-workspace.js';

/**
 * Issue 23 from Nx, in a workspace where klp-split is installed from its
 * packed tarballs: a klp-livepatch.json naming a fix ("patch") instead of a
 * source gets a create target (the @klp-split/nx:create executor, the same
 * function as `klp-split create`) before split, build and verify.
 */
let tmp: string;
let ws: string;
const nx = (args: string[]) => run(join(ws, 'node_modules/.bin/nx'), args, ws);

beforeAll(async () => {
  tmp = tempDir('create-nx');
  ws = join(tmp, 'ws');
  await createUserWorkspace(ws);
  writeFileSync(join(ws, 'nx.json'), JSON.stringify({ plugins: ['@klp-split/nx'] }));
  const dir = join(ws, 'livepatches/cve-cmdline');
  mkdirSync(dir, { recursive: true });
  cpSync(join(CREATE_FIXTURES, 'cmdline-string/fix.patch'), join(dir, '0001-proc-mark-cmdline.patch'));
  writeFileSync(join(dir, 'klp-livepatch.json'), JSON.stringify({ name: 'cve-cmdline', patch: ['0001-proc-mark-cmdline.patch'] }));
}, 1_200_000);

afterAll(() => {
  if (tmp) removeDir(tmp);
});

describe('a livepatch made from a fix, from Nx', () => {
  it('infers create before split, build and verify, with the create executor\'s options', async () => {
    const r = await nx(['show', 'project', 'cve-cmdline', '--json']);
    expect(r.code, r.output).toBe(0);
    const project = JSON.parse(r.output.slice(r.output.indexOf('{')));
    expect(project.targets.create).toMatchObject({
      executor: '@klp-split/nx:create',
      options: { patches: ['livepatches/cve-cmdline/0001-proc-mark-cmdline.patch'], outputPath: 'livepatches/cve-cmdline/out/create', name: 'cve-cmdline' },
    });
    expect(project.targets.split.dependsOn).toEqual(['create']);
    expect(project.targets.split.options.sources).toEqual(['livepatches/cve-cmdline/out/create/cve-cmdline.c']);
  });

  it('creates, splits, builds and verifies; a second run comes from the cache', async () => {
    const first = await nx(['run', 'cve-cmdline:verify', '--output-style=static']);
    expect(first.code, first.output).toBe(0);
    expect(nxTaskLines(first.output).map((t) => t.task)).toEqual(['cve-cmdline:create', 'cve-cmdline:split', 'cve-cmdline:build', 'cve-cmdline:verify']);
    expect(first.output).toContain('vmlinux: cmdline_proc_show');
    const created = readFileSync(join(ws, 'livepatches/cve-cmdline/out/create/cve-cmdline.c'), 'utf8');
    expect(created).toContain('.old_name = "cmdline_proc_show"');
    expect(existsSync(join(ws, 'livepatches/cve-cmdline/out/cve-cmdline.ko'))).toBe(true);
    expect(JSON.parse(readFileSync(join(ws, 'livepatches/cve-cmdline/out/verify.json'), 'utf8')).ok).toBe(true);
    const second = await nx(['run', 'cve-cmdline:verify', '--output-style=static']);
    expect(second.code, second.output).toBe(0);
    expect(nxCacheHits(second.output), nxTaskLines(second.output).map((t) => `${t.task} ${t.note}`).join('\n')).toEqual({ hits: 4, tasks: 4 });
  });

  it('a fix that cannot be made into a livepatch fails the create task with the diagnostic at its line', async () => {
    const dir = join(ws, 'livepatches/cve-cmdline');
    cpSync(join(CREATE_FIXTURES, 'refuse-init/fix.patch'), join(dir, '0001-proc-mark-cmdline.patch'));
    const r = await nx(['run', 'cve-cmdline:create', '--output-style=static']);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/fs\/proc\/cmdline\.c:16:2: error: changed init code 'proc_cmdline_init'.*\[create-init-changed\]/);
  });
});
