import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, relative } from 'node:path';
import ajvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import { XMLParser } from 'fast-xml-parser';
import { beforeAll, describe, expect, it } from 'vitest';
import { klpSplit, ROOT } from '../helpers/env.js';
import { EXAMPLE_TARGETS, exampleBuild, type ExampleBuild } from '../helpers/examples.js';
import { sharedFixture } from '../helpers/fixtures.js';

const require = createRequire(import.meta.url);
// Both are CommonJS modules whose exports are also their own `default`, the name their types give the class.
const Ajv = ajvDraft04.default;
const addFormats = ajvFormats.default;
const ORIGINAL = join(ROOT, 'examples/defects/klpd-deadlock/klpd-deadlock.c');

/** Issue 6: verify as a CI gate, on the example workspace's deliberate defect. */
describe('verify as a CI gate', () => {
  /** The defect split and built (a shared fixture, read only), its source copied beside it. */
  let out: string;
  let original: string;
  let example: ExampleBuild;
  let parserKo: string;
  let deadlockLine: number;
  let originalLine: number;

  beforeAll(async () => {
    // The example modules and klpd-fix, built (a shared fixture).
    example = await exampleBuild();
    parserKo = example.targets[EXAMPLE_TARGETS.indexOf('klpd-parser')]!;
    const defect = await sharedFixture('ci-gate-defect', { files: [ORIGINAL, join(ROOT, 'examples/modules/klpd-parser')] }, async (d) => {
      // The source inside the fixture: the findings name it relative to the split, wherever the checkout is.
      mkdirSync(join(d, 'src'));
      cpSync(ORIGINAL, join(d, 'src', basename(ORIGINAL)));
      const split = await klpSplit(['split', join(d, 'src', basename(ORIGINAL)), '--out', join(d, 'out')]);
      if (split.code !== 0) throw new Error(`split of the defect failed:\n${split.stderr}`);
      // Without the livepatch relocation pass, which turns the call into a .klp.rela entry (the fix for
      // this deadlock): the example's defect is what the gate must catch.
      const b = await klpSplit(['build', join(d, 'out'), '--symbols', join(example.targetDir('klpd-parser'), 'Module.symvers'), '--no-klp-relocs']);
      if (b.code !== 0) throw new Error(`build of the defect failed:\n${b.stdout}${b.stderr}`);
    });
    out = join(defect, 'out');
    original = join(defect, 'src', basename(ORIGINAL));
    const part = readFileSync(join(out, 'klpd-deadlock__klpd-parser.c'), 'utf8').split('\n');
    deadlockLine = part.findIndex((l) => l.includes('if (klpd_parser_version() > 1)')) + 1;
    originalLine = readFileSync(original, 'utf8').split('\n').findIndex((l) => l.includes('if (klpd_parser_version() > 1)')) + 1;
  });

  it('fails verify on the defect example with the finding at its source line', async () => {
    const r = await klpSplit(['verify', out, '--target', parserKo]);
    expect(r.code).toBe(1);
    // At the line the user wrote, with the line of the split file alongside.
    expect(r.stdout).toContain(`${relative(out, original)}:${originalLine}:6: error: uses 'klpd_parser_version' exported by its own target 'klpd_parser'`);
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
      artifactLocation: { uri: relative(out, original) },
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
    const r = await klpSplit(['verify', example.fix, ...example.targets.flatMap((t) => ['--target', t]), '--format', 'junit']);
    expect(r.code, r.stderr).toBe(0);
    const suite = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(r.stdout).testsuites.testsuite;
    expect(Number(suite.failures)).toBe(0);
    expect([suite.testcase].flat().map((c: { name: string }) => c.name)).toContainEqual(expect.stringMatching(/^model check: \d+ states, complete$/));
  });
});
