import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { klpSplit, ROOT, samples } from '../helpers/env.js';

/**
 * A real split livepatch, built with kbuild, for the classes that fuzz what
 * verify and simulate read (manifests, build records, scenarios, paths):
 * livepatch-shadow-fix1 split and built, and its target livepatch-shadow-mod
 * built. Built once per version of the tool's sources and shared by the
 * fuzz files running in parallel (a directory lock), since kbuild is the
 * slow part; every case works on its own copy.
 */

export interface BuiltSplit {
  /** The split output: klp-split.json, the sources, the .ko files, .klp-split/build.json. */
  dir: string;
  /** livepatch-shadow-mod.ko */
  target: string;
  patch: string;
}

function sourcesKey(): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const f of readdirSync(dir).sort()) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.ts') && !f.endsWith('.test.ts')) h.update(p).update(readFileSync(p));
    }
  };
  for (const pkg of readdirSync(join(ROOT, 'packages')).sort()) if (existsSync(join(ROOT, 'packages', pkg, 'src'))) walk(join(ROOT, 'packages', pkg, 'src'));
  return h.digest('hex').slice(0, 16);
}

async function build(into: string): Promise<void> {
  mkdirSync(into, { recursive: true });
  const out = join(into, 'split');
  const split = await klpSplit(['split', samples('livepatch-shadow-fix1.c'), '--out', out]);
  if (split.code !== 0) throw new Error(`fixture split failed:\n${split.stdout}\n${split.stderr}`);
  const built = await klpSplit(['build', out]);
  if (built.code !== 0) throw new Error(`fixture build failed:\n${built.stdout}\n${built.stderr}`);
  const tg = join(into, 'target');
  mkdirSync(tg);
  cpSync(samples('livepatch-shadow-mod.c'), join(tg, 'livepatch-shadow-mod.c'));
  const t = await klpSplit(['build', tg]);
  if (t.code !== 0) throw new Error(`fixture target build failed:\n${t.stdout}\n${t.stderr}`);
}

/** A build cached under $TMPDIR by `name` and the tool's sources, made once by whichever fuzz file asks first. */
async function cachedBuild(name: string, build: (into: string) => Promise<void>): Promise<string> {
  const cache = join(tmpdir(), `klp-split-fuzz-${name}-${sourcesKey()}`);
  const done = join(cache, 'done');
  const lock = `${cache}.lock`;
  const deadline = Date.now() + 5 * 60_000;
  while (!existsSync(done)) {
    try {
      mkdirSync(lock);
    } catch {
      // Another fuzz file is building it; a lock older than five minutes is a crashed builder's.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 5 * 60_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
      if (Date.now() > deadline) throw new Error(`waited five minutes for ${lock}`);
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      if (!existsSync(done)) {
        const tmp = `${cache}.tmp-${process.pid}`;
        rmSync(tmp, { recursive: true, force: true });
        await build(tmp);
        writeFileSync(join(tmp, 'done'), '');
        rmSync(cache, { recursive: true, force: true });
        renameSync(tmp, cache);
      }
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  return cache;
}

export async function builtSplit(): Promise<BuiltSplit> {
  const cache = await cachedBuild('built', build);
  return { dir: join(cache, 'split'), target: join(cache, 'target/livepatch-shadow-mod.ko'), patch: 'livepatch_shadow_fix1' };
}

/**
 * A split whose modules carry livepatch relocations (test/fixtures/klp-relocs:
 * the per-object part reaches its target's static symbols through
 * `.klp.rela.klpr_mod.text`, the main module vmlinux's through
 * `.klp.rela.vmlinux.text`), built with its target: the ELF-field fuzzing's input.
 */
export async function builtRelocSplit(): Promise<BuiltSplit & { part: string }> {
  const fixtures = join(ROOT, 'test/fixtures/klp-relocs');
  const cache = await cachedBuild('reloc-split', async (into) => {
    mkdirSync(into, { recursive: true });
    cpSync(join(fixtures, 'klpr-mod'), join(into, 'target'), { recursive: true });
    const t = await klpSplit(['build', join(into, 'target')]);
    if (t.code !== 0) throw new Error(`fixture target build failed:\n${t.stdout}\n${t.stderr}`);
    const out = join(into, 'split');
    const s = await klpSplit(['split', join(fixtures, 'livepatches/klpr-fix.c'), '--out', out]);
    if (s.code !== 0) throw new Error(`fixture split failed:\n${s.stdout}\n${s.stderr}`);
    const b = await klpSplit(['build', out, '--target', join(into, 'target/klpr-mod.ko')]);
    if (b.code !== 0) throw new Error(`fixture build failed:\n${b.stdout}\n${b.stderr}`);
  });
  return { dir: join(cache, 'split'), target: join(cache, 'target/klpr-mod.ko'), patch: 'klpr_fix', part: 'klpr-fix__klpr-mod.ko' };
}

/** A private copy of the built split for one case. */
export function copyBuilt(b: BuiltSplit, to: string): string {
  cpSync(b.dir, to, { recursive: true });
  return to;
}
