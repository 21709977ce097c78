import { cpSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import Ajv from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { klpSplit, removeDir, ROOT, tempDir } from '../helpers/env.js';

const require = createRequire(import.meta.url);
const ORIGINAL = join(ROOT, 'examples/defects/klpd-deadlock/klpd-deadlock.c');

/** Issue 6: verify as a CI gate, on the example workspace's deliberate defect. */
describe('verify as a CI gate', () => {
  let out: string;
  let parserKo: string;
  let deadlockLine: number;
  let originalLine: number;
  // A copy of the example modules: the Nx suites build the workspace's own in place.
  let modules: string;

  beforeAll(async () => {
    modules = tempDir('example-modules');
    cpSync(join(ROOT, 'examples/modules'), modules, { recursive: true });
    const parser = join(modules, 'klpd-parser');
    expect((await klpSplit(['build', parser])).code).toBe(0);
    parserKo = join(parser, 'klpd-parser.ko');
    out = tempDir('defect');
    expect((await klpSplit(['split', ORIGINAL, '--out', out])).code).toBe(0);
    // Without the livepatch relocation pass, which turns the call into a .klp.rela entry (the fix for
    // this deadlock): the example's defect is what the gate must catch.
    expect((await klpSplit(['build', out, '--symbols', join(parser, 'Module.symvers'), '--no-klp-relocs'])).code).toBe(0);
    const part = readFileSync(join(out, 'klpd-deadlock__klpd-parser.c'), 'utf8').split('\n');
    deadlockLine = part.findIndex((l) => l.includes('if (klpd_parser_version() > 1)')) + 1;
    originalLine = readFileSync(ORIGINAL, 'utf8').split('\n').findIndex((l) => l.includes('if (klpd_parser_version() > 1)')) + 1;
  });
  afterAll(() => {
    removeDir(out);
    removeDir(modules);
  });

  it('fails verify on the defect example with the finding at its source line', async () => {
    const r = await klpSplit(['verify', out, '--target', parserKo]);
    expect(r.code).toBe(1);
    // At the line the user wrote, with the line of the split file alongside.
    expect(r.stdout).toContain(`${relative(out, ORIGINAL)}:${originalLine}:6: error: uses 'klpd_parser_version' exported by its own target 'klpd_parser'`);
    expect(r.stdout).toContain(`(generated klpd-deadlock__klpd-parser.c:${deadlockLine}:6) [target-export-deadlock]`);
    expect(r.stdout).toContain('[target-export-deadlock]');
  });

  it('writes SARIF 2.1.0 that validates against the SARIF schema, located at C source lines', async () => {
    const r = await klpSplit(['verify', out, '--target', parserKo, '--format', 'sarif'], { cwd: out });
    expect(r.code).toBe(1);
    const sarif = JSON.parse(r.stdout);
    const schema = JSON.parse(readFileSync(require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8'));
    const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    expect(validate(sarif), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ version: '2.1.0', runs: [{ results: [] }] })).toBe(false);
    const result = sarif.runs[0].results.find((x: { ruleId: string }) => x.ruleId === 'target-export-deadlock');
    expect(result.level).toBe('error');
    expect(result.locations[0].physicalLocation).toEqual({
      artifactLocation: { uri: relative(out, ORIGINAL) },
      region: { startLine: originalLine, startColumn: 6 },
    });
    expect(result.relatedLocations[0].physicalLocation).toEqual({
      artifactLocation: { uri: 'klpd-deadlock__klpd-parser.c' },
      region: { startLine: deadlockLine, startColumn: 6 },
    });
  });

  it('writes JUnit XML with a test case per module and per scenario', async () => {
    const r = await klpSplit(['verify', out, '--target', parserKo, '--format', 'junit']);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(r.stdout);
    const suite = doc.testsuites.testsuite;
    expect(suite.name).toBe('klpd_deadlock');
    const cases = [suite.testcase].flat();
    expect(cases.map((c: { name: string }) => c.name)).toEqual(['module klpd_deadlock', 'module klpd_deadlock__klpd_parser', 'scenario: load targets, load patch, disable, unload']);
    expect(cases[1].failure.message).toContain('[target-export-deadlock]');
    expect(cases[0].failure).toBeUndefined();
    expect(Number(suite.failures)).toBe(1);
  });

  it('gives a passing JUnit report with the exploration as a test case for a clean patch', async () => {
    const clean = tempDir('clean');
    try {
      await klpSplit(['split', join(ROOT, 'examples/livepatches/klpd-fix/klpd-fix.c'), '--out', clean]);
      expect((await klpSplit(['build', clean])).code).toBe(0);
      const targets = ['klpd-counter', 'klpd-parser', 'klpd-ticker'];
      for (const t of targets) expect((await klpSplit(['build', join(modules, t)])).code).toBe(0);
      const r = await klpSplit(['verify', clean, ...targets.flatMap((t) => ['--target', join(modules, t, `${t}.ko`)]), '--format', 'junit']);
      expect(r.code).toBe(0);
      const suite = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(r.stdout).testsuites.testsuite;
      expect(Number(suite.failures)).toBe(0);
      expect([suite.testcase].flat().map((c: { name: string }) => c.name)).toContainEqual(expect.stringMatching(/^model check: \d+ states, complete$/));
    } finally {
      removeDir(clean);
    }
  });
});
