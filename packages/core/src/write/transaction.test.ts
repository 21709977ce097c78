import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KlpError } from '../errors.js';
import { contentHash } from './hash.js';
import { JOURNAL_FILE, LOCK_FILE, STAGING_DIR } from './names.js';
import { withWriteTransaction, writeDir, WriteRefused } from './transaction.js';

let root: string;
let dir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'klp-write-'));
  dir = join(root, 'out');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const files = (entries: Record<string, string>): Map<string, Buffer> => new Map(Object.entries(entries).map(([k, v]) => [k, b(v)]));
const listing = (d: string): string[] => readdirSync(d).sort();

function thrown(f: () => unknown): KlpError {
  try {
    f();
  } catch (e) {
    if (e instanceof KlpError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('writeDir: all or nothing', () => {
  it('writes new files, reports unchanged ones, and leaves none of its own entries behind', () => {
    expect(writeDir(dir, { files: files({ 'a.c': 'A', 'sub/b.json': '{}' }) })).toEqual({ written: ['a.c', 'sub/b.json'], unchanged: [], removed: [] });
    expect(readFileSync(join(dir, 'sub/b.json'), 'latin1')).toBe('{}');
    expect(writeDir(dir, { files: files({ 'a.c': 'A', 'sub/b.json': '{}' }) })).toEqual({ written: [], unchanged: ['a.c', 'sub/b.json'], removed: [] });
    expect(listing(dir)).toEqual(['a.c', 'sub']);
  });

  it('keeps every byte (no UTF-8 round trip)', () => {
    const bytes = Buffer.from([0x23, 0x20, 0x4a, 0xfc, 0x72, 0x67, 0x65, 0x6e, 0x0d, 0x0a, 0xff]);
    writeDir(dir, { files: new Map([['Makefile', bytes]]) });
    expect(readFileSync(join(dir, 'Makefile')).equals(bytes)).toBe(true);
  });

  it('refuses a name that leaves the directory before writing anything', () => {
    const e = thrown(() => writeDir(dir, { files: files({ 'a.c': 'A', '../escape.c': 'X' }) }));
    expect(e.code).toBe('path-escape');
    expect(existsSync(join(root, 'escape.c'))).toBe(false);
    expect(existsSync(join(dir, 'a.c'))).toBe(false);
  });

  it('removes a directory it created when nothing could be written', () => {
    expect(thrown(() => writeDir(dir, { files: files({ '../x.c': 'X' }) })).code).toBe('path-escape');
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses a symbolic link that leads outside', () => {
    mkdirSync(dir);
    symlinkSync(root, join(dir, 'link'));
    expect(thrown(() => writeDir(dir, { files: files({ 'link/x.c': 'X' }) })).code).toBe('path-escape');
    expect(existsSync(join(root, 'x.c'))).toBe(false);
  });

  it('refuses a path that is a file, exit 2', () => {
    writeFileSync(join(root, 'file'), 'keep');
    const e = thrown(() => writeDir(join(root, 'file'), { files: files({ 'a.c': 'A' }) }));
    expect(e.code).toBe('not-a-directory');
    expect(e.exit).toBe(2);
    expect(readFileSync(join(root, 'file'), 'utf8')).toBe('keep');
  });
});

describe('writeDir: edit protection', () => {
  const previous = (entries: Record<string, string | undefined>): Map<string, string | undefined> => new Map(Object.entries(entries));

  it('never replaces a generated file edited since its hash was recorded, and names it', () => {
    writeDir(dir, { files: files({ 'a.c': 'A1', 'b.c': 'B1' }) });
    writeFileSync(join(dir, 'a.c'), 'A1 edited');
    const e = thrown(() => writeDir(dir, { files: files({ 'a.c': 'A2', 'b.c': 'B2' }), previous: previous({ 'a.c': contentHash(b('A1')), 'b.c': contentHash(b('B1')) }) }));
    expect(e).toBeInstanceOf(WriteRefused);
    expect(e.exit).toBe(2);
    expect(e.message).toContain("'a.c' (edited since klp-split wrote it)");
    expect(e.message).not.toContain("'b.c'");
    // Nothing written: b.c kept its old content although it was not edited.
    expect(readFileSync(join(dir, 'b.c'), 'latin1')).toBe('B1');
    expect(readFileSync(join(dir, 'a.c'), 'latin1')).toBe('A1 edited');
  });

  it('never deletes an edited generated file that the new output drops; --force does', () => {
    writeDir(dir, { files: files({ 'old.c': 'O' }) });
    writeFileSync(join(dir, 'old.c'), 'O edited');
    const plan = { files: files({ 'new.c': 'N' }), previous: previous({ 'old.c': contentHash(b('O')) }) };
    expect(thrown(() => writeDir(dir, plan)).message).toContain("'old.c' (edited");
    expect(listing(dir)).toEqual(['old.c']);
    expect(writeDir(dir, { ...plan, force: true })).toEqual({ written: ['new.c'], unchanged: [], removed: ['old.c'] });
    expect(listing(dir)).toEqual(['new.c']);
  });

  it('deletes unedited stale files and replaces unedited ones', () => {
    writeDir(dir, { files: files({ 'old.c': 'O', 'k.c': 'K1' }) });
    const r = writeDir(dir, { files: files({ 'k.c': 'K2' }), previous: previous({ 'old.c': contentHash(b('O')), 'k.c': contentHash(b('K1')) }) });
    expect(r).toEqual({ written: ['k.c'], unchanged: [], removed: ['old.c'] });
  });

  it('a record without hashes (a version 1 manifest) protects every file it lists: changed or deleted only with --force (issue 20)', () => {
    writeDir(dir, { files: files({ 'a.c': 'A1', 'b.c': 'B1', 'old.c': 'O' }) });
    writeFileSync(join(dir, 'a.c'), 'A1 edited');
    const unhashed = previous({ 'a.c': undefined, 'b.c': undefined, 'old.c': undefined });
    const e = thrown(() => writeDir(dir, { files: files({ 'a.c': 'A2', 'b.c': 'B1' }), previous: unhashed }));
    expect(e).toBeInstanceOf(WriteRefused);
    expect(e.exit).toBe(2);
    expect(e.message).toBe("nothing written: would replace or delete 'a.c' (recorded without a hash by an older klp-split, so it may have been edited), 'old.c' (recorded without a hash by an older klp-split, so it may have been edited)");
    expect(listing(dir)).toEqual(['a.c', 'b.c', 'old.c']);
    expect(readFileSync(join(dir, 'a.c'), 'latin1')).toBe('A1 edited');
    // What the new output leaves as it is needs no hash; --force replaces and deletes.
    expect(writeDir(dir, { files: files({ 'a.c': 'A2', 'b.c': 'B1' }), previous: unhashed, force: true })).toEqual({ written: ['a.c'], unchanged: ['b.c'], removed: ['old.c'] });
  });

  it('refuses a foreign file unless the caller may replace it or --force', () => {
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.c'), 'mine');
    expect(thrown(() => writeDir(dir, { files: files({ 'a.c': 'A' }) })).message).toContain("'a.c' (not written by klp-split)");
    expect(writeDir(dir, { files: files({ 'a.c': 'A' }), mayReplace: (_n, cur) => cur.toString() === 'mine' }).written).toEqual(['a.c']);
  });
});

describe('recovery of an interrupted write', () => {
  it('rolls a journal forward before the body reads the directory', () => {
    mkdirSync(join(dir, STAGING_DIR), { recursive: true });
    writeFileSync(join(dir, 'gone.c'), 'G');
    writeFileSync(join(dir, 'a.c'), 'old');
    writeFileSync(join(dir, STAGING_DIR, '0'), 'new');
    writeFileSync(join(dir, JOURNAL_FILE), JSON.stringify({ version: 1, renames: [{ staged: '0', to: 'a.c' }], deletes: ['gone.c'] }));
    const seen = withWriteTransaction(dir, (tx) => ({ recovered: tx.recovered, a: readFileSync(join(dir, 'a.c'), 'utf8') }));
    expect(seen).toEqual({ recovered: 'rolled-forward', a: 'new' });
    expect(listing(dir)).toEqual(['a.c']);
  });

  it('drops staging without a journal and old-scheme temporary files', () => {
    mkdirSync(join(dir, STAGING_DIR), { recursive: true });
    writeFileSync(join(dir, STAGING_DIR, '0'), 'half');
    writeFileSync(join(dir, '.a.c.klp-split-4242.tmp'), 'half');
    writeFileSync(join(dir, 'Kbuild.4242.tmp'), 'half');
    mkdirSync(join(dir, '.klp-split'));
    writeFileSync(join(dir, '.klp-split/build.json.4242.tmp'), 'half');
    writeFileSync(join(dir, 'a.c'), 'old');
    expect(withWriteTransaction(dir, (tx) => tx.recovered)).toBe('old-scheme');
    expect(listing(dir)).toEqual(['.klp-split', 'a.c']);
    expect(listing(join(dir, '.klp-split'))).toEqual([]);
  });

  it('a staging directory that is a link out, with a forged journal, moves nothing in (issue 20)', () => {
    const outside = join(root, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, '0'), 'from outside');
    mkdirSync(dir);
    symlinkSync(outside, join(dir, STAGING_DIR));
    writeFileSync(join(dir, JOURNAL_FILE), JSON.stringify({ version: 1, renames: [{ staged: '0', to: 'a.c' }], deletes: [] }));
    const e = thrown(() => withWriteTransaction(dir, () => 0));
    expect(e.code).toBe('write-entry-forged');
    expect(e.exit).toBe(2);
    expect(e.format()).toContain(`${join(dir, STAGING_DIR)}: error: ${STAGING_DIR} is a symbolic link; klp-split never makes one there`);
    expect(existsSync(join(dir, 'a.c'))).toBe(false);
    expect(readFileSync(join(outside, '0'), 'utf8')).toBe('from outside');
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('a journal that is a link, or staged entries that are links, move nothing in', () => {
    writeFileSync(join(root, 'forged.json'), JSON.stringify({ version: 1, renames: [{ staged: '0', to: 'a.c' }], deletes: [] }));
    mkdirSync(join(dir, STAGING_DIR), { recursive: true });
    writeFileSync(join(root, 'secret'), 'outside');
    symlinkSync(join(root, 'secret'), join(dir, STAGING_DIR, '0'));
    symlinkSync(join(root, 'forged.json'), join(dir, JOURNAL_FILE));
    expect(thrown(() => withWriteTransaction(dir, () => 0)).code).toBe('write-entry-forged');
    rmSync(join(dir, JOURNAL_FILE));
    // A real journal whose staged file is a link: the link is not moved in.
    writeFileSync(join(dir, JOURNAL_FILE), readFileSync(join(root, 'forged.json')));
    expect(withWriteTransaction(dir, (tx) => tx.recovered)).toBe('rolled-forward');
    expect(existsSync(join(dir, 'a.c'))).toBe(false);
    expect(readFileSync(join(root, 'secret'), 'utf8')).toBe('outside');
  });

  it('refuses a journal entry that leaves the directory, touching nothing', () => {
    writeFileSync(join(root, 'victim.txt'), 'precious');
    mkdirSync(join(dir, STAGING_DIR), { recursive: true });
    writeFileSync(join(dir, JOURNAL_FILE), JSON.stringify({ version: 1, renames: [], deletes: ['../victim.txt'] }));
    expect(thrown(() => withWriteTransaction(dir, () => 0)).code).toBe('path-escape');
    expect(readFileSync(join(root, 'victim.txt'), 'utf8')).toBe('precious');
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });
});
