import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KlpError } from '../errors.js';
import { buildManifest, builtParts, checkManifest, MAX_MANIFEST_PARTS, MANIFEST_VERSION, parseManifest, readManifest, type ManifestInput } from './manifest.js';

const input: ManifestInput = {
  generator: 'klp-split test',
  patch: 'livepatch_sample',
  source: 'livepatch-sample.c',
  exports: [],
  parts: [
    { object: 'vmlinux', module: 'livepatch_sample', file: 'livepatch-sample.c', funcs: [{ oldName: 'cmdline_proc_show', newFunc: 'livepatch_cmdline_proc_show', sympos: 0 }], callbacks: [] },
    { object: 'mod_a', module: 'livepatch_sample__mod_a', file: 'livepatch-sample__mod-a.c', funcs: [], callbacks: [{ kind: 'pre_patch', func: 'pre' }] },
  ],
  warnings: [],
  replace: true,
  states: [{ id: 1, version: 2, idText: 'ID', versionText: '2' }],
};

function problem(fn: () => unknown): KlpError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KlpError) return e;
    throw e;
  }
  throw new Error('expected a KlpError');
}

describe('the manifest contract', () => {
  it('builds manifests that its own check accepts, with replace a boolean and states a list', () => {
    const m = buildManifest(input);
    expect(m.manifestVersion).toBe(MANIFEST_VERSION);
    expect(m.objNames).toEqual(['mod_a']);
    expect(m.replace).toBe(true);
    expect(m.states).toEqual([{ id: 1, version: 2, idText: 'ID', versionText: '2' }]);
    expect(parseManifest(JSON.stringify(m), 'klp-split.json')).toEqual(m);
  });

  it('names the file and the JSON path of every problem in one error', () => {
    const bad = JSON.parse(JSON.stringify(buildManifest(input)));
    bad.patch = 'has space';
    bad.replace = 'true';
    bad.parts[1].funcs = [{ oldName: 'x;y', newFunc: 1, sympos: -1 }];
    bad.parts[1].callbacks[0].kind = 'pre_enable';
    bad.parts[1].file = '../up.c';
    const e = problem(() => checkManifest(bad, 'dir/klp-split.json'));
    expect(e.code).toBe('manifest-invalid');
    expect(e.file).toBe('dir/klp-split.json');
    expect(e.message).toMatch(/^manifest has 7 problems: /);
    for (const part of [
      '$.patch: "has space" is not a module name',
      '$.replace: expected a boolean, got a string',
      '$.parts[1].file: \'../up.c\' leaves the directory',
      '$.parts[1].funcs[0].oldName: "x;y" is not a symbol name',
      '$.parts[1].funcs[0].newFunc: expected a string, got a number',
      '$.parts[1].funcs[0].sympos: expected a non-negative integer, got a number',
      '$.parts[1].callbacks[0].kind: expected one of pre_patch, post_patch, pre_unpatch, post_unpatch',
    ]) {
      expect(e.message).toContain(part);
    }
  });

  it('refuses duplicate objects, modules and files, and more parts than the bound, without walking them', () => {
    const m = buildManifest(input);
    const dup = { ...m, parts: [...m.parts, { ...m.parts[1]! }] };
    const e = problem(() => checkManifest(dup, 'm.json'));
    expect(e.message).toContain('$.parts[2].object: duplicate object "mod_a" (also $.parts[1])');
    expect(e.message).toContain('$.parts[2].module: duplicate module "livepatch_sample__mod_a" (also $.parts[1])');
    expect(e.message).toContain('$.parts[2].file: duplicate file "livepatch-sample__mod-a.c" (also $.parts[1])');
    const many = { ...m, parts: Array.from({ length: MAX_MANIFEST_PARTS + 1 }, (_, i) => ({ ...m.parts[1]!, object: `o${i}`, module: `m${i}`, file: `f${i}.c` })) };
    expect(problem(() => checkManifest(many, 'm.json')).message).toBe(`manifest has a problem: $.parts: has ${MAX_MANIFEST_PARTS + 1} entries; at most ${MAX_MANIFEST_PARTS} are accepted`);
    expect(problem(() => buildManifest({ ...input, parts: [...input.parts, input.parts[1]!] })).code).toBe('manifest-invalid');
  });

  it('reads version 1 manifests, whose replace and states were C text', () => {
    const v1 = { ...JSON.parse(JSON.stringify(buildManifest(input))), manifestVersion: 1, replace: 'true', states: 'klp_states' };
    const m = checkManifest(v1, 'old.json');
    expect(m.replace).toBe(true);
    expect(m.states).toEqual([{ id: null, version: null, idText: 'klp_states' }]);
    const macro = checkManifest({ ...v1, replace: 'REPLACE' }, 'old.json');
    expect(macro.replace).toBeUndefined();
    expect(macro.replaceText).toBe('REPLACE');
    expect(problem(() => checkManifest({ ...v1, manifestVersion: 2 }, 'new.json')).message).toContain('$.replace: expected a boolean, got a string');
  });

  it('accepts the optional fileHashes (edit protection) and checks them', () => {
    const hash = 'a'.repeat(64);
    expect(checkManifest({ ...buildManifest(input), fileHashes: { 'livepatch-sample.c': hash } }, 'm.json').fileHashes).toEqual({ 'livepatch-sample.c': hash });
    const e = problem(() => checkManifest({ ...buildManifest(input), fileHashes: { '../x.c': 'zz' } }, 'm.json'));
    expect(e.message).toContain('$.fileHashes["../x.c"]: \'../x.c\' leaves the directory');
    expect(e.message).toContain('$.fileHashes["../x.c"]: expected a sha256 in hexadecimal');
  });

  it('carries the real livepatch fields (sources, sourceMap, condition, nameFrom) and checks them', () => {
    const parts = [{ ...input.parts[0]!, funcs: [{ oldName: 'sys_getpid', newFunc: 'fix_getpid', sympos: 0, condition: 'defined(CONFIG_X86)', nameFrom: 'compiler' as const }] }, input.parts[1]!];
    const m = buildManifest({ ...input, parts, sources: ['a.c', 'b.c'], sourceMap: { sources: ['../src/a.c'], files: { 'livepatch-sample.c': '1,0,1,3,1;4,0,9,1,0' } } });
    expect(m.sources).toEqual(['a.c', 'b.c']);
    expect(m.sourceMap).toEqual({ sources: ['../src/a.c'], files: { 'livepatch-sample.c': '1,0,1,3,1;4,0,9,1,0' } });
    expect(m.parts[0]!.funcs[0]).toEqual({ oldName: 'sys_getpid', newFunc: 'fix_getpid', sympos: 0, condition: 'defined(CONFIG_X86)', nameFrom: 'compiler' });
    expect(parseManifest(JSON.stringify(m), 'klp-split.json')).toEqual(m);
    const bad = JSON.parse(JSON.stringify(m));
    bad.sources = ['../out.c', 3];
    bad.sourceMap.files['livepatch-sample.c'] = '1,0,x';
    bad.parts[0].funcs[0].nameFrom = 'guess';
    bad.parts[0].funcs[0].condition = 7;
    const e = problem(() => checkManifest(bad, 'm.json'));
    expect(e.message).toContain("$.sources[0]: '../out.c' leaves the directory");
    expect(e.message).toContain('$.sources[1]: expected a string, got a number');
    expect(e.message).toContain('$.sourceMap.files["livepatch-sample.c"]: expected segments');
    expect(e.message).toContain('$.parts[0].funcs[0].nameFrom: expected "compiler", got a string');
    expect(e.message).toContain('$.parts[0].funcs[0].condition: expected a string, got a number');
  });

  it('carries composite parts (files) and conditional objects (condition, compiledOut), and checks them', () => {
    const parts = [
      { ...input.parts[0]!, file: 'fix_main.c', files: ['fix_main.c', 'fix_funcs.c'] },
      { ...input.parts[1]!, condition: 'defined(CONFIG_X86_64)' },
      { object: 'mod_b', module: 'livepatch_sample__mod_b', file: 'livepatch-sample__mod-b.c', condition: 'defined(CONFIG_NEVER)', compiledOut: true, funcs: [], callbacks: [] },
    ];
    const m = buildManifest({ ...input, parts });
    // What the configuration leaves out is no object of this build.
    expect(m.objNames).toEqual(['mod_a']);
    expect(builtParts(m).map((p) => p.module)).toEqual(['livepatch_sample', 'livepatch_sample__mod_a']);
    expect(m.parts[0]!.files).toEqual(['fix_main.c', 'fix_funcs.c']);
    expect(m.parts[2]).toMatchObject({ condition: 'defined(CONFIG_NEVER)', compiledOut: true });
    expect(parseManifest(JSON.stringify(m), 'klp-split.json')).toEqual(m);
    const bad = JSON.parse(JSON.stringify(m));
    bad.parts[0].files = ['fix_funcs.c', '../x.c', 'livepatch-sample__mod-a.c'];
    bad.parts[2].compiledOut = 'yes';
    const e = problem(() => checkManifest(bad, 'm.json'));
    expect(e.message).toContain(`$.parts[0].files: does not list the part's file "fix_main.c"`);
    expect(e.message).toContain("$.parts[0].files[1]: '../x.c' leaves the directory");
    expect(e.message).toContain('$.parts[1].file: duplicate file "livepatch-sample__mod-a.c" (also $.parts[0])');
    expect(e.message).toContain('$.parts[2].compiledOut: expected a boolean, got a string');
  });

  it('reads only regular files within the size limit, and reports JSON syntax at its line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'klp-manifest-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    expect(problem(() => readManifest(dir)).code).toBe('input-not-file');
    expect(problem(() => readManifest('/dev/zero')).code).toBe('input-not-file');
    const file = join(dir, 'klp-split.json');
    writeFileSync(file, '{\n  "patch": "p",\n  parts: []\n}\n');
    const e = problem(() => readManifest(file));
    expect(e.format()).toMatch(new RegExp(`^${file}:3:\\d+: error: manifest is not valid JSON: .*\\[json-syntax\\]$`));
  });
});
