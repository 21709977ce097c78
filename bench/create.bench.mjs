// create benchmark (issue 23): `klp-split create` of a one-function fix
// (test/fixtures/create/cmdline-string: cmdline_proc_show of fs/proc/cmdline.c)
// against kbuild of that one object, the original fs/proc/cmdline.o, built as
// an external object against Debian's headers in a scratch copy (what a
// binary-diffing tool has to do at least twice). Both in this run, warm
// caches (the extracted source tree, the decompressed vmlinux, the kallsyms
// dump); reports each time and the ratio create/kbuild.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLivepatch } from '../packages/create/dist/index.js';
import { discoverKernelTree, kernelSourceTree } from '../packages/kernel-facts/dist/index.js';

const ROUNDS = 3;
const FIX = 'test/fixtures/create/cmdline-string/fix.patch';
const tree = discoverKernelTree({});
const source = kernelSourceTree();

async function timeCreate(out) {
  const t0 = process.hrtime.bigint();
  const r = await createLivepatch({ patches: [FIX], outputPath: out, name: 'klpc_bench', force: true });
  if (!r.ok) throw new Error(`create failed: ${JSON.stringify(r.diagnostics)}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function timeKbuild(dir) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('make', ['-C', tree.dir, `M=${dir}`, 'cmdline.o'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kbuild of cmdline.o failed:\n${r.stdout}\n${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const work = mkdtempSync(join(tmpdir(), 'klp-split-create-bench-'));
try {
  // One create first: extracts what a cold cache lacks (not measured).
  await timeCreate(join(work, 'warm'));
  const rows = [];
  for (let round = 0; round < ROUNDS; round++) {
    const create = await timeCreate(join(work, `out${round}`));
    const obj = join(work, `obj${round}`);
    rmSync(obj, { recursive: true, force: true });
    spawnSync('mkdir', ['-p', obj]);
    copyFileSync(join(source, 'fs/proc/cmdline.c'), join(obj, 'cmdline.c'));
    // obj-y: compiled as the kernel compiles it (no -DMODULE; fs_initcall() exists only there).
    writeFileSync(join(obj, 'Kbuild'), `ccflags-y += -I${source}/fs/proc\nobj-y += cmdline.o\n`);
    const kbuild = timeKbuild(obj);
    rows.push({ create, kbuild });
    console.log(`round ${round + 1}: create ${(create / 1000).toFixed(2)} s, kbuild of fs/proc/cmdline.o ${(kbuild / 1000).toFixed(2)} s, ratio ${(create / kbuild).toFixed(2)}`);
  }
  const ratios = rows.map((r) => r.create / r.kbuild).sort((a, b) => a - b);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model}`);
  console.log(`median ratio create/kbuild-one-object: ${ratios[Math.floor(ratios.length / 2)].toFixed(2)}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
