import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BUILD_RECORD, contentHash } from '@klp-split/core';

/**
 * A test that forges a built module's bytes (a relocation field, a section
 * header) wants verify and simulate to read that module as the build's, not
 * refuse it as stale: the build record next to it takes the new bytes' hash,
 * as if the build had produced them. Modules outside a build record are left.
 */
export function recordForgedModule(ko: string): void {
  const record = join(dirname(ko), BUILD_RECORD);
  if (!existsSync(record)) return;
  const r = JSON.parse(readFileSync(record, 'utf8')) as { modules?: { ko: string; sha256?: string }[] };
  const m = r.modules?.find((x) => basename(x.ko) === basename(ko));
  if (!m?.sha256) return;
  m.sha256 = contentHash(readFileSync(ko));
  writeFileSync(record, `${JSON.stringify(r, null, 2)}\n`);
}
