import { describe, expect, it } from 'vitest';
import { checkOptions } from './check-options.js';
import type { CommandSpec } from './spec.js';

const SPEC = {
  name: 'demo',
  summary: 'A command.',
  usage: 'klp-split demo <dir>',
  about: '',
  after: '',
  options: {
    path: { type: 'string', operand: true, required: true, value: 'directory', description: 'The directory.' },
    jobs: { type: 'integer', minimum: 1, description: 'Jobs.' },
    format: { type: 'string', enum: ['text', 'json'], default: 'text', description: 'Format.' },
    explore: { type: 'boolean', default: true, description: 'Explore.' },
    targets: { type: 'list', flag: 'target', description: 'Targets.' },
    config: { type: 'map', description: 'Make variables.' },
  },
} as const satisfies CommandSpec;

/** What the Nx executors pass on: options from project.json, checked as the command line's are. */
describe('checkOptions', () => {
  it('fills in the defaults and keeps what was given', () => {
    expect(checkOptions(SPEC, { path: 'd', targets: ['a.ko'], config: { A: 'm' } })).toEqual({ path: 'd', targets: ['a.ko'], config: { A: 'm' }, format: 'text', explore: true });
    expect(checkOptions(SPEC, { path: 'd', explore: false, format: 'json' })).toEqual({ path: 'd', explore: false, format: 'json' });
  });

  it.each([
    [{ path: 'd', kdri: '/x' }, /demo: unknown option 'kdri'/],
    [{}, /demo: give the directory/],
    [{ path: 'd', jobs: 0 }, /demo: --jobs takes an integer of at least 1/],
    [{ path: 'd', jobs: '2' }, /demo: --jobs takes an integer/],
    [{ path: 'd', format: 'xml' }, /demo: --format takes text, json, not 'xml'/],
    [{ path: 'd', explore: 'no' }, /demo: --no-explore takes true or false/],
    [{ path: 'd', targets: 'a.ko' }, /demo: --target takes a list of strings/],
    [{ path: 'd', config: { A: 1 } }, /demo: --config takes NAME=VALUE pairs/],
    [{ path: 'd\0x' }, /demo: the directory takes a string without NUL/],
  ])('refuses %j as a usage error (exit 2)', (raw, message) => {
    let err: unknown;
    try {
      checkOptions(SPEC, raw as Record<string, unknown>);
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toMatch(message);
    expect((err as { exit: number }).exit).toBe(2);
  });
});
