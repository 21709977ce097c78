import { mkdirSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Rng } from './rng.js';
import type { Sandbox } from './sandbox.js';

/**
 * Hostile values for a path field read from data, relative to the directory
 * `base` it must stay in: escapes by `..`, absolute paths, symbolic links
 * inside base that point out, NUL, very long names, `.`, and values of the
 * wrong type. Symbolic links are planted in base as a side effect.
 */

export interface PathValue {
  label: string;
  value: unknown;
}

export function hostilePath(rng: Rng, base: string, sandbox: Sandbox, target: 'victim' | 'secret' | 'symvers' | 'lib' = rng.pick(['victim', 'secret'] as const)): PathValue {
  const s = sandbox.paths();
  const outside = target === 'victim' ? s.victim : target === 'secret' ? s.secret : target === 'symvers' ? s.symvers : join(s.lib, 'lp.c');
  const rel = relative(base, outside);
  const choices: (() => PathValue)[] = [
    () => ({ label: '..', value: rel }),
    () => ({ label: './..', value: `./${rel}` }),
    () => ({ label: 'sub/../..', value: `sub/../${rel}` }),
    () => ({ label: 'absolute', value: outside }),
    // Never a system file: the tool runs as root here and today's defects delete what they are given.
    () => ({ label: 'deep .. to the root and back', value: `${'../'.repeat(24)}${outside.slice(1)}` }),
    () => {
      const link = `link-${rng.int(1000)}`;
      symlinkSync(join(outside, '..'), join(base, link));
      return { label: 'symlink to a directory outside', value: `${link}/${outside.replace(/^.*\//, '')}` };
    },
    () => {
      const link = `file-link-${rng.int(1000)}.c`;
      symlinkSync(outside, join(base, link));
      return { label: 'symlink to a file outside', value: link };
    },
    () => {
      mkdirSync(join(base, 'sub'), { recursive: true });
      const link = `sub/up-${rng.int(1000)}`;
      symlinkSync('../..', join(base, link));
      return { label: 'relative symlink upward', value: `${link}/${relative(join(base, '..'), outside)}` };
    },
    () => ({ label: 'NUL', value: `ok.c\0/../../${rel}` }),
    () => ({ label: 'very long', value: `${'d/'.repeat(2500)}x.c` }),
    () => ({ label: 'long component', value: `${'n'.repeat(300)}.c` }),
    () => ({ label: '.', value: '.' }),
    () => ({ label: '..', value: '..' }),
    () => ({ label: 'empty', value: '' }),
    () => ({ label: 'the sandbox root', value: `${sandbox.root}/` }),
    () => ({ label: 'trailing slash', value: `${rel}/` }),
    () => ({ label: 'backslashes', value: rel.replace(/\//g, '\\') }),
    () => ({ label: 'newline', value: `a\n${rel}` }),
    () => ({ label: 'tilde', value: '~/klp-fuzz-victim' }),
    () => ({ label: 'file URL', value: `file://${outside}` }),
    () => ({ label: 'number', value: 42 }),
    () => ({ label: 'null', value: null }),
    () => ({ label: 'array', value: [rel] }),
    () => ({ label: 'object', value: { path: rel } }),
  ];
  return rng.pick(choices)();
}
