import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { corpus } from './env.js';
import { sharedFixture } from './fixtures.js';

/** The kernel's checkpatch.pl and the data files it reads (linux-source-6.1's scripts/). */
const SCRIPTS = ['checkpatch.pl', 'spelling.txt', 'const_structs.checkpatch'];

let perlMemo: string | undefined;
const perlVersion = (): string => (perlMemo ??= execFileSync('perl', ['-e', 'print $^V'], { encoding: 'utf8' }));

/**
 * `checkpatch.pl --no-tree --no-summary-file --file` of each file, its
 * stdout by file, in order. What checkpatch prints is a function of the
 * script, its data files, perl, and each file's name and text: the reports
 * are kept as a shared fixture keyed by those, so a warm run reads them.
 * Each file is checked as a copy of the same base name (the reports name the
 * copy).
 */
export async function checkpatch(files: string[]): Promise<string[]> {
  const scripts = SCRIPTS.map((f) => join(corpus(), 'scripts', f));
  const facts = [`perl ${perlVersion()}`, ...files.map((f) => `${basename(f)}\0${readFileSync(f, 'latin1')}`)];
  const dir = await sharedFixture('checkpatch', { files: scripts, facts, kbuild: false, tool: false }, async (d) => {
    const reports: string[] = [];
    for (const [i, f] of files.entries()) {
      const copy = join(d, String(i), basename(f));
      mkdirSync(join(copy, '..'));
      cpSync(f, copy);
      const cp = await execa('perl', [scripts[0]!, '--no-tree', '--no-summary-file', '--file', copy], { reject: false });
      reports.push(String(cp.stdout));
    }
    writeFileSync(join(d, 'reports.json'), JSON.stringify(reports));
  });
  return JSON.parse(readFileSync(join(dir, 'reports.json'), 'utf8')) as string[];
}
