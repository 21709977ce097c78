import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KlpError } from '../errors.js';
import { BUILD_RECORD, buildRecordText, checkBuildRecord, readBuildRecord } from './build-record.js';

let root: string;
let kdir: string;
let dir: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'klp-record-'));
  // A stand-in for the shape only: a directory with the two files that make a kernel tree recognisable.
  kdir = join(root, 'kernel');
  mkdirSync(kdir);
  writeFileSync(join(kdir, 'Makefile'), '');
  writeFileSync(join(kdir, 'Module.symvers'), '');
  dir = join(root, 'split');
  mkdirSync(join(dir, '.klp-split'), { recursive: true });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const good = () => ({ kdir, release: '6.1.0-57-amd64', symvers: join(kdir, 'Module.symvers'), layoutModule: '.klp-split/probe.ko', modules: [{ module: 'p', ko: 'p.ko' }] });

function problem(fn: () => unknown): KlpError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KlpError) return e;
    throw e;
  }
  throw new Error('expected a KlpError');
}

describe('the build record contract', () => {
  it('round-trips what build writes, with paths made absolute inside the directory', () => {
    writeFileSync(join(dir, BUILD_RECORD), buildRecordText(good()));
    const r = readBuildRecord(dir)!;
    expect(r.modules).toEqual([{ module: 'p', ko: join(dir, 'p.ko') }]);
    expect(r.layoutModule).toBe(join(dir, '.klp-split/probe.ko'));
    expect(r.symvers).toBe(join(kdir, 'Module.symvers'));
  });

  it('derives symvers from kdir when the record leaves it out, and refuses any other file', () => {
    const { symvers: _, ...noSymvers } = good();
    expect(checkBuildRecord(noSymvers, dir, 'b.json').symvers).toBe(join(kdir, 'Module.symvers'));
    const e = problem(() => checkBuildRecord({ ...good(), symvers: '/etc/passwd' }, dir, 'b.json'));
    expect(e.code).toBe('build-record-invalid');
    expect(e.message).not.toContain('/etc/passwd');
  });

  it('refuses module and probe paths that leave the directory, by spelling or through a link', () => {
    const e = problem(() => checkBuildRecord({ ...good(), layoutModule: '/abs/probe.ko', modules: [{ module: 'p', ko: '../../x.ko' }, { module: 'p', ko: 'q.txt' }] }, dir, 'b.json'));
    expect(e.message).toContain("$.layoutModule: '/abs/probe.ko' is absolute");
    expect(e.message).toContain("$.modules[0].ko: '../../x.ko' leaves the directory");
    expect(e.message).toContain('$.modules[1].ko: must name a .ko file');
    expect(e.message).toContain("$.modules[1].module: duplicate module 'p'");
    symlinkSync(root, join(dir, 'up'));
    expect(problem(() => checkBuildRecord({ ...good(), modules: [{ module: 'p', ko: 'up/kernel/x.ko' }] }, dir, 'b.json')).code).toBe('path-escape');
  });

  it('refuses a kdir that is not a kernel tree', () => {
    expect(problem(() => checkBuildRecord({ ...good(), kdir: 'relative' }, dir, 'b.json')).message).toContain('$.kdir: must be an absolute path');
    const e = problem(() => checkBuildRecord({ ...good(), kdir: root, symvers: join(root, 'Module.symvers') }, dir, 'b.json'));
    expect(e.code).toBe('build-record-kdir');
  });
});
