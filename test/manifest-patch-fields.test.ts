import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { splitSource } from '@klp-split/splitter';
import { libLivepatch } from './helpers/env.js';

/** The manifest's replace and states, read from the kernel's own test livepatches. */
function manifestOf(file: string) {
  const path = libLivepatch(file);
  const r = splitSource(path, readFileSync(path, 'utf8'));
  expect(r.kind).toBe('split');
  return r.manifest!;
}

describe('klp_patch.replace and .states in the manifest', () => {
  it('test_klp_state.c: replace is the boolean true and states the evaluated list', () => {
    const m = manifestOf('test_klp_state.c');
    expect(m.replace).toBe(true);
    expect(m.replaceText).toBeUndefined();
    expect(m.states).toEqual([{ id: 1, version: 1, idText: 'CONSOLE_LOGLEVEL_STATE', versionText: 'CONSOLE_LOGLEVEL_STATE_VERSION' }]);
  });

  it('test_klp_state2.c: a newer version of the same state', () => {
    const m = manifestOf('test_klp_state2.c');
    expect(m.states).toEqual([{ id: 1, version: 2, idText: 'CONSOLE_LOGLEVEL_STATE', versionText: 'CONSOLE_LOGLEVEL_STATE_VERSION' }]);
  });

  it('test_klp_livepatch.c: no replace field is false, no states field is no list', () => {
    const m = manifestOf('test_klp_livepatch.c');
    expect(m.replace).toBe(false);
    expect(m.states).toBeUndefined();
  });

  it('test_klp_atomic_replace.c: replace set at run time has no value, only its text', () => {
    const m = manifestOf('test_klp_atomic_replace.c');
    expect(m.replace).toBeUndefined();
    expect(m.replaceText).toBe('patch.replace = replace;');
  });
});
