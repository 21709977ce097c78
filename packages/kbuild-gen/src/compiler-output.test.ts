import { describe, expect, it } from 'vitest';
import { parseBuildOutput } from './compiler-output.js';

describe('kbuild output parsing', () => {
  it('maps gcc diagnostics to files relative to the module directory', () => {
    const out = [
      '  CC [M]  /tmp/m/fix__mod.o',
      "/tmp/m/fix__mod.c:12:8: error: 'x' undeclared (first use in this function)",
      '/tmp/m/fix__mod.c:20:1: warning: unused variable ‘y’ [-Wunused-variable]',
      "/usr/src/linux-headers/include/linux/foo.h:3:1: note: declared here",
    ].join('\n');
    expect(parseBuildOutput(out, '/tmp/m')).toEqual([
      { file: 'fix__mod.c', line: 12, col: 8, severity: 'error', message: "'x' undeclared (first use in this function)", code: 'cc-error' },
      { file: 'fix__mod.c', line: 20, col: 1, severity: 'warning', message: 'unused variable ‘y’', code: '-Wunused-variable' },
      { file: '/usr/src/linux-headers/include/linux/foo.h', line: 3, col: 1, severity: 'note', message: 'declared here', code: 'cc-note' },
    ]);
  });

  it('reads modpost errors with the module they are about', () => {
    const d = parseBuildOutput('ERROR: modpost: "klp_add_object" [/tmp/m/fix__mod.ko] undefined!', '/tmp/m');
    expect(d).toEqual([{ file: 'fix__mod.ko', line: 0, col: 0, severity: 'error', message: '"klp_add_object" [/tmp/m/fix__mod.ko] undefined!', code: 'modpost' }]);
  });
});
