import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STEPS_SCRIPT } from '../../packages/nx/src/real-kernel/guest-run.js';
import { removeDir, tempDir } from '../helpers/env.js';
import { builtSources } from '../helpers/fixtures.js';
import { runKey } from '../real/run-cache.js';

/**
 * Kept real-kernel runs (test/real/run-cache.ts) are only as good as their
 * key: it must change with every byte the kernel loads and with the
 * scenario, and stay put for what the kernel never reads (the debug
 * sections, which hold the directory a module was built in).
 */
const source = (greeting: string): string => `#include <linux/module.h>
#include <linux/printk.h>
static int __init klprc_init(void) { pr_info("${greeting}\\n"); return 0; }
static void __exit klprc_exit(void) { }
module_init(klprc_init);
module_exit(klprc_exit);
MODULE_LICENSE("GPL");
`;

let work: string;
let hello: string;
let helloElsewhere: string;
let other: string;
let scenario: string;

beforeAll(async () => {
  work = tempDir('run-cache');
  // The same source built in two fixture directories (two build paths in the debug sections), and another text.
  hello = join(await builtSources('run-cache-a', { 'klprc.c': source('hello') }), 'klprc.ko');
  helloElsewhere = join(await builtSources('run-cache-b', { 'klprc.c': source('hello') }), 'klprc.ko');
  other = join(await builtSources('run-cache-c', { 'klprc.c': source('hullo') }), 'klprc.ko');
  scenario = join(work, 'scenario');
  writeFileSync(scenario, '@case a\ninsmod /lib/modules/x/extra/klprc.ko\n@end a\n');
}, 600_000);
afterAll(() => removeDir(work));

const key = (ko: string, scenarioFile = scenario): string => runKey({ kernel: 'stock', kos: [ko], script: STEPS_SCRIPT, files: { scenario: scenarioFile }, workDir: work, append: 'log_buf_len=32M' });

describe('the key of a kept real-kernel run', () => {
  it('is the same for the same inputs, and for the same module built in another directory', () => {
    expect(readFileSync(hello)).not.toEqual(readFileSync(helloElsewhere));
    expect(key(hello)).toBe(key(hello));
    expect(key(helloElsewhere)).toBe(key(hello));
  });

  it('changes with the bytes the kernel loads, with a section added, and with the scenario', () => {
    expect(key(other)).not.toBe(key(hello));
    const noted = join(work, 'klprc.ko');
    copyFileSync(hello, noted);
    writeFileSync(join(work, 'note'), 'x');
    execFileSync('objcopy', ['--add-section', `.klprc.extra=${join(work, 'note')}`, noted]);
    expect(key(noted)).not.toBe(key(hello));
    const changed = join(work, 'scenario2');
    writeFileSync(changed, readFileSync(scenario, 'utf8').replace('insmod', 'modprobe'));
    expect(key(hello, changed)).not.toBe(key(hello));
  });
});
