import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { contentHash } from '../write/hash.js';
import { buildInputs, staleness } from './build-freshness.js';
import type { BuildRecord } from './build-record.js';

describe('staleness of a build directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'klp-split-freshness-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const record = (more: Partial<BuildRecord>): BuildRecord => ({ kdir: '/k', release: 'r', symvers: '/k/Module.symvers', modules: [], ...more });

  it('hashes the sources, headers, manifests and kbuild files, nothing else', () => {
    for (const f of ['fix.c', 'fix.h', 'klp-split.json', 'Kbuild', 'fix.mod.c', 'project.json', 'fix.ko']) writeFileSync(join(dir, f), f);
    expect(Object.keys(buildInputs(dir))).toEqual(['Kbuild', 'fix.c', 'fix.h', 'klp-split.json']);
  });

  it('is fresh when nothing changed, stale when a source changed, appeared or went, or a module changed', () => {
    const ko = join(dir, 'fix.ko');
    const fresh = record({ inputs: buildInputs(dir), modules: [{ module: 'fix', ko, sha256: contentHash(Buffer.from('fix.ko')) }] });
    expect(staleness(dir, fresh)).toBeUndefined();
    writeFileSync(join(dir, 'fix.c'), 'edited');
    expect(staleness(dir, fresh)).toBe("'fix.c' changed after the build: its modules are older than their sources");
    writeFileSync(join(dir, 'fix.c'), 'fix.c');
    writeFileSync(join(dir, 'new.c'), 'x');
    expect(staleness(dir, fresh)).toBe("'new.c' appeared after the build");
    rmSync(join(dir, 'new.c'));
    writeFileSync(ko, 'other');
    expect(staleness(dir, fresh)).toBe("module 'fix' is not the one the build made (it changed since)");
  });

  it('is stale after a failed build, whatever the sources', () => {
    expect(staleness(dir, record({ failed: { at: '2026-12-07T12:00:00Z', errors: 2 } }))).toBe("the last 'klp-split build' of this directory failed (2026-12-07T12:00:00Z, 2 errors): its modules are from an earlier build");
  });
});
