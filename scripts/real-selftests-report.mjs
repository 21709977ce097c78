// The host side of scripts/real-selftests.sh: turns qemu-kernel.sh's output
// (argv[2]) into the JSON report its header describes; exit 0 when every
// script exited 0 with every test ok. The run's facts come in the
// environment (RELEASE, SCRIPT_TIMEOUT, DURATION, BOOT, CACHE, MODDIR, SCRIPTS).
import { readFileSync } from 'node:fs';
const text = readFileSync(process.argv[2], 'utf8');
const cut = text.indexOf('\n### klp-qemu: dmesg\n');
const payload = text.slice(0, cut).split('\n');
const dmesg = text.slice(cut + '\n### klp-qemu: dmesg\n'.length);
const wanted = process.env.SCRIPTS.split(' ');

// The scripts' output between the markers, and their verdicts.
const scripts = [];
let cur;
for (const line of payload) {
  let m;
  if ((m = /^### klp-selftests: begin (\S+)$/.exec(line))) {
    cur = { script: m[1], exit: null, timedOut: false, durationMs: null, tests: [], output: [] };
    scripts.push(cur);
  } else if ((m = /^### klp-selftests: end (\S+) rc=(\d+) ms=(\d+)$/.exec(line)) && cur) {
    cur.exit = Number(m[2]);
    cur.durationMs = Number(m[3]);
    // GNU timeout: 124 after SIGTERM, 137 after the SIGKILL that follows.
    cur.timedOut = cur.exit === 124 || cur.exit === 137;
    cur = undefined;
  } else if (cur) {
    cur.output.push(line);
    // "TEST: <name> ... ok" / "... not ok"; a test that died before its
    // check_result has the ERROR: text after the dots.
    if ((m = /^TEST: (.*?) \.\.\. ?(.*)$/.exec(line))) cur.tests.push({ name: m[1], ok: m[2] === 'ok', log: [] });
  }
}
for (const s of wanted) {
  if (!scripts.some((x) => x.script === s)) scripts.push({ script: s, exit: null, timedOut: false, durationMs: null, tests: [], output: ['(not run)'] });
}

// The kernel log per test, filtered like check_result() in functions.sh.
const strip = (l) => l.replace(/^\[[ 0-9.]*\] /, '');
let sc;
let test;
const nth = new Map();
for (const raw of dmesg.split('\n')) {
  const line = strip(raw);
  let m;
  if ((m = /^klp-selftests: begin (\S+)$/.exec(line))) { sc = scripts.find((x) => x.script === m[1]); test = undefined; nth.set(sc, 0); continue; }
  if (/^klp-selftests: end /.test(line)) { sc = undefined; test = undefined; continue; }
  if (!sc) continue;
  if ((m = /^===== TEST: (.*) =====$/.exec(line))) {
    const i = nth.get(sc);
    nth.set(sc, i + 1);
    test = sc.tests[i];
    if (!test || test.name !== m[1]) { test = { name: m[1], ok: false, log: [], note: 'in the kernel log only' }; sc.tests.splice(i, 0, test); }
    continue;
  }
  if (test && /livepatch:|test_klp/.test(line) && !/(tainting|taints) kernel/.test(line)) test.log.push(line);
}
for (const s of scripts) s.output = s.output.join('\n');
const report = {
  release: process.env.RELEASE,
  kallsyms: (() => {
    const m = payload.map((l) => /^### klp-selftests: kallsyms ([0-9a-f]{64}) (\d+)$/.exec(l)).find(Boolean);
    return m ? { sha256: m[1], lines: Number(m[2]) } : null;
  })(),
  durationMs: Number(process.env.DURATION),
  bootMs: Number(process.env.BOOT),
  modulesCache: process.env.CACHE,
  modulesDir: process.env.MODDIR,
  scriptTimeoutS: Number(process.env.SCRIPT_TIMEOUT),
  scripts,
  dmesg,
};
process.stdout.write(JSON.stringify(report, null, 2) + '\n');
const good = scripts.every((s) => s.exit === 0 && s.tests.length > 0 && s.tests.every((t) => t.ok));
process.exit(good ? 0 : 1);
