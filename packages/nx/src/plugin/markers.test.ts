import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KlpError } from '@klp-split/core';
import { MarkerError, readAnyMarker, readLivepatchMarker, readModuleMarker } from './markers.js';
import { shellQuote } from './targets.js';

let ws: string;
beforeAll(() => {
  ws = mkdtempSync(join(tmpdir(), 'klp-split-markers-'));
  mkdirSync(join(ws, 'lp'));
  mkdirSync(join(ws, 'outside'));
});
afterAll(() => rmSync(ws, { recursive: true, force: true }));

function write(name: string, json: unknown): string {
  writeFileSync(join(ws, 'lp', name), typeof json === 'string' ? json : JSON.stringify(json));
  return `lp/${name}`;
}

function refusal(read: () => unknown): KlpError {
  try {
    read();
  } catch (e) {
    expect(e).toBeInstanceOf(MarkerError);
    return e as KlpError;
  }
  throw new Error('the marker was accepted');
}

describe('klp-livepatch.json', () => {
  it('reads a valid marker, name defaulting to the directory', () => {
    const m = readLivepatchMarker(write('klp-livepatch.json', { source: 'fix.c', targets: ['mod'], kdir: '/usr/src/linux' }), ws);
    expect(m).toEqual({ name: 'lp', markerFile: 'lp/klp-livepatch.json', root: 'lp', source: 'fix.c', targets: ['mod'], kdir: '/usr/src/linux' });
  });

  it('keeps a kdir with shell syntax as one path: it is never given to a shell', () => {
    expect(readLivepatchMarker(write('klp-livepatch.json', { source: 'fix.c', kdir: '/x; touch PWNED #' }), ws).kdir).toBe('/x; touch PWNED #');
  });

  it.each([
    ['no source', {}, /"source" is required/],
    ['a source that is not .c', { source: 'fix.h' }, /"source" must name a \.c file/],
    ['a source leaving the project', { source: '../outside/fix.c' }, /leaves/],
    ['an absolute source', { source: '/etc/fix.c' }, /absolute/],
    ['a kdir with NUL', { source: 'fix.c', kdir: '/usr\u0000/src' }, /"kdir" must be the path/],
    ['a kdir with a newline', { source: 'fix.c', kdir: '/usr/src\nrm -rf /' }, /"kdir" must be the path/],
    ['an empty kdir', { source: 'fix.c', kdir: '' }, /"kdir" must be the path/],
    ['a kdir that is not a string', { source: 'fix.c', kdir: ['/usr/src'] }, /"kdir" must be the path/],
    ['targets that are not a list', { source: 'fix.c', targets: 'mod' }, /"targets" must be a list/],
    ['a target that is not a name', { source: 'fix.c', targets: [''] }, /"targets" must be a list of project names/],
    ['an unknown key', { source: 'fix.c', kdri: '/usr/src' }, /unknown key "kdri"/],
    ['a name with a newline', { source: 'fix.c', name: 'a\nb' }, /"name" must be/],
    ['an array', [], /must be a JSON object/],
    ['broken JSON', '{"source":', /not valid JSON/],
  ])('refuses %s, naming the marker', (_what, json, message) => {
    const e = refusal(() => readLivepatchMarker(write('klp-livepatch.json', json), ws));
    expect(e.file).toBe('lp/klp-livepatch.json');
    expect(e.format()).toMatch(/^lp\/klp-livepatch\.json(:\d+:\d+)?: error: /);
    expect(e.message).toMatch(message);
  });

  it('refuses a source that leaves the project through a symbolic link', () => {
    writeFileSync(join(ws, 'outside/fix.c'), '');
    symlinkSync('../outside', join(ws, 'lp/linked'));
    const e = refusal(() => readLivepatchMarker(write('klp-livepatch.json', { source: 'linked/fix.c' }), ws));
    expect(e.code).toBe('path-escape');
  });
});

describe('the project directory', () => {
  const at = (dir: string, name: string, json: unknown): string => {
    mkdirSync(join(ws, dir), { recursive: true });
    writeFileSync(join(ws, dir, name), JSON.stringify(json));
    return `${dir}/${name}`;
  };

  it.each(['lp;touch PWNED;x', 'a`touch PWNED`b', "q'x\"y", 'sp ace', 'nl\nx', '-lead', 'dollar$HOME', 'ex!x'])('keeps %j: Nx carries it as a path and no target gives it to a shell', (dir) => {
    expect(readLivepatchMarker(at(`d/${dir}`, 'klp-livepatch.json', { source: 'fix.c' }), ws).root).toBe(`d/${dir}`);
  });

  it.each(['$(touch PWNED)', 'fix[1]', 'a{b,c}', 'star*', 'q?', 'back\\slash', '!neg', '{projectRoot}'])('refuses %j, which Nx would read as glob or token syntax', (dir) => {
    for (const [name, json] of [['klp-livepatch.json', { source: 'fix.c' }], ['klp-module.json', { sources: ['m.c'] }]] as const) {
      const e = refusal(() => readAnyMarker(at(`d/${dir}`, name, json), ws));
      expect(e.code).toBe('project-dir');
      expect(e.file).toBe(`d/${dir}/${name}`);
      expect(e.message).toContain(JSON.stringify(`d/${dir}`));
    }
  });
});

describe('klp-module.json', () => {
  it('reads a valid marker', () => {
    expect(readModuleMarker(write('klp-module.json', { name: 'm', sources: ['a.c', 'sub/b.c'] }), ws).sources).toEqual(['a.c', 'sub/b.c']);
  });

  it.each([
    ['no sources', {}, /"sources" is required/],
    ['empty sources', { sources: [] }, /"sources" must be a non-empty list/],
    ['a source leaving the project', { sources: ['a.c', '../../etc/x.c'] }, /leaves/],
  ])('refuses %s, naming the marker', (_what, json, message) => {
    const e = refusal(() => readModuleMarker(write('klp-module.json', json), ws));
    expect(e.file).toBe('lp/klp-module.json');
    expect(e.message).toMatch(message);
  });

  it('kernel-id reads either marker by its name and nothing else', () => {
    write('klp-module.json', { sources: ['a.c'] });
    expect(readAnyMarker('lp/klp-module.json', ws).name).toBe('lp');
    write('package.json', {});
    expect(refusal(() => readAnyMarker('lp/package.json', ws)).message).toMatch(/not a klp-split marker/);
  });
});

describe('shellQuote', () => {
  it('makes one shell word of anything, single quotes included', () => {
    expect(shellQuote("a b")).toBe("'a b'");
    expect(shellQuote("q'$(touch x)'")).toBe(`'q'\\''$(touch x)'\\'''`);
  });

  it('is read back by sh as the same string', () => {
    for (const s of ["q'$(touch PWNED)'", '/x; touch PWNED #', 'a`id`b', "'", 'tab\there\nnewline', '$HOME "quoted" \\']) {
      expect(execFileSync('sh', ['-c', `printf %s ${shellQuote(s)}`], { cwd: ws }).toString()).toBe(s);
    }
  });
});
