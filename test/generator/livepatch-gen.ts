import type { Rng } from '../fuzz/rng.js';

/**
 * Generates livepatch sources in the shapes kernel engineers write them,
 * from a seeded PRNG: a vmlinux object and one to three modules, replacement
 * functions, helpers private to one object or shared by several (stateless,
 * stateful, static inline), static variables and function pointers, macros
 * and types, kernel annotations, relocation annotations
 * (`KLP_RELOC_SYMBOL[_POS]`) for symbols of one object, module parameters,
 * callbacks, calls into kernel headers, version and config conditionals
 * (`#if/#elif/#else`, nested) whose branches define the same names,
 * comments everywhere (file header, before items and blocks, inside
 * functions, at branch ends, on `#endif`), sometimes a local header named
 * like the patch, sometimes no `MODULE_INFO(livepatch, "Y")`.
 *
 * Every generated original compiles against Debian's 6.1 headers (the kbuild
 * sample checks it). What the generator knows about each name is what the
 * oracles (split-oracles.ts) check the split against.
 */

/** A name the livepatch defines, and which objects' code needs it. */
export interface Entity {
  name: string;
  kind: 'function' | 'variable' | 'macro' | 'type' | 'extern' | 'param';
  /** Objects (module names, 'vmlinux') whose code uses it, directly or through helpers. */
  users: Set<string>;
  /** For `extern` with a relocation annotation: the object the symbol is in. */
  owner?: string;
  /** The comment written right above its definition (travels with it). */
  comment?: string;
}

export interface GeneratedLivepatch {
  /** Source file name (`klpg-<n>.c`). */
  file: string;
  source: string;
  /** The livepatch's own headers, by name. */
  headers: Map<string, string>;
  /** Patched modules (vmlinux aside). */
  modules: string[];
  entities: Entity[];
  /** The split must refuse it, with this diagnostic code. */
  refusal?: string;
  /** Diagnostic codes the split may report as warnings. */
  warnings: Set<string>;
  /** A helper shared by several objects reaches one object's symbol: the split must refuse or keep it out of the others. */
  crossObject: boolean;
}

/** Kernel functions and macros the generated code calls, with the header that declares them. */
const KERNEL_API: { header: string; use: (x: string) => string }[] = [
  { header: 'linux/slab.h', use: (x) => `kfree(kmalloc(${x} & 0xff, GFP_KERNEL))` },
  { header: 'linux/jiffies.h', use: (x) => `(void)time_after(jiffies, (unsigned long)${x})` },
  { header: 'linux/cpumask.h', use: (x) => `(void)(${x} + num_online_cpus())` },
  { header: 'linux/string.h', use: (x) => `(void)strnlen("klpg", ${x} & 3)` },
  { header: 'linux/atomic.h', use: () => 'atomic_inc(&klpg_atomic_dummy)' },
  { header: 'linux/delay.h', use: (x) => `if (${x} == -12345) udelay(1)` },
  { header: 'linux/random.h', use: (x) => `(void)(${x} ^ get_random_u32())` },
  { header: 'linux/version.h', use: (x) => `(void)(${x} + LINUX_VERSION_CODE)` },
];

/** Conditions a block may test, each true or false on Debian's 6.1 amd64 configuration. */
const CONDITIONS = [
  (k: number) => `#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, ${k}, 0)`,
  (k: number) => `#if LINUX_VERSION_CODE < KERNEL_VERSION(4, ${k}, 0)`,
  () => '#ifdef CONFIG_SMP',
  () => '#ifndef CONFIG_KLPG_NEVER_SET',
  () => '#if defined(CONFIG_64BIT) && !defined(CONFIG_X86_32)',
  () => '#if IS_ENABLED(CONFIG_PRINTK)',
  () => '#ifdef CONFIG_KLPG_NEVER_SET',
];

const ANNOTATED_VARIABLE = ['', '', '__read_mostly ', '__maybe_unused ', '__section(".data.klpg") ', '__aligned(8) '];
const FUNCTION_PREFIX = ['static ', 'static ', 'static noinline ', 'static __maybe_unused ', 'static __cold ', 'static __used '];

interface Piece {
  /** The text, with `@V` where the variant of a conditional branch differs. */
  text: (variant: number) => string;
  defines?: string;
  /** May be put under a conditional (its variants all define the same name). */
  variable: boolean;
}

export function generateLivepatch(rng: Rng, index: number): GeneratedLivepatch {
  const patch = `klpg_${index}`;
  const file = `${rng.chance(0.5) ? patch.replace(/_/g, '-') : patch}.c`;
  const base = file.replace(/\.c$/, '');
  const warnings = new Set<string>(['shared-mutable-state', 'exit-statement-shared']);
  const entities: Entity[] = [];
  const headers = new Map<string, string>();
  const includes = new Set(['linux/module.h', 'linux/kernel.h', 'linux/livepatch.h']);

  const nMods = rng.chance(0.12) ? 0 : 1 + rng.int(3);
  const modules = Array.from({ length: nMods }, (_, i) => `klpg_mod_${'abc'[i]}`);
  const vmlinuxFuncs = nMods === 0 || rng.chance(0.6);
  const objects = [...(vmlinuxFuncs ? ['vmlinux'] : []), ...modules];
  const tag = (o: string): string => (o === 'vmlinux' ? 'vm' : o.slice(-1));
  const someObjects = (): Set<string> => {
    const n = rng.chance(0.55) ? 1 : 1 + rng.int(objects.length);
    return new Set(rng.some(objects, n));
  };

  const pieces: Piece[] = [];
  const add = (piece: Piece): void => void pieces.push(piece);
  const comment = (name: string): string => `/* c:${name} */`;
  // What each object's replacements may use: name -> an expression of `x` using it.
  const usable = new Map<string, { expr: (x: string) => string; e: Entity }[]>(objects.map((o) => [o, []]));
  const offer = (e: Entity, expr: (x: string) => string): void => {
    entities.push(e);
    for (const o of e.users) usable.get(o)!.push({ expr, e });
  };

  // Types and macros, shared or private.
  for (let i = 0, n = rng.int(3); i < n; i++) {
    const name = `klpg_t${i}`;
    const e: Entity = { name, kind: 'type', users: someObjects(), comment: rng.chance(0.5) ? comment(name) : undefined };
    const aligned = rng.chance(0.3) ? ' __aligned(8)' : '';
    add({ defines: name, variable: true, text: (v) => `${e.comment ? `${e.comment}\n` : ''}struct ${name} {\n\t${v ? 'long' : 'int'} a;\n\tunsigned long b;\n}${aligned};` });
    offer(e, (x) => `({ struct ${name} s = { .a = ${x}, .b = 1 }; (int)s.a + (int)s.b; })`);
  }
  for (let i = 0, n = rng.int(4); i < n; i++) {
    const name = `KLPG_M${i}`;
    const e: Entity = { name, kind: 'macro', users: someObjects(), comment: rng.chance(0.4) ? comment(name) : undefined };
    const fnLike = rng.chance(0.4);
    add({ defines: name, variable: true, text: (v) => `${e.comment ? `${e.comment}\n` : ''}#define ${name}${fnLike ? '(y)\t((y) + ' + (v + 1) + ')' : `\t${v + 3}`}` });
    offer(e, (x) => (fnLike ? `${name}(${x})` : `(${x} + ${name})`));
  }
  // The livepatch's own header: macros of its own, sometimes named like the patch.
  if (rng.chance(0.15)) {
    const hname = rng.chance(0.6) ? `${base}.h` : 'klpg-local.h';
    const name = 'KLPG_LOCAL';
    headers.set(hname, `/* SPDX-License-Identifier: GPL-2.0 */\n#ifndef KLPG_LOCAL_H\n#define KLPG_LOCAL_H\n#define ${name}\t7\n#endif\n`);
    const e: Entity = { name, kind: 'macro', users: someObjects() };
    offer(e, (x) => `(${x} * ${name})`);
    includes.add(`"${hname}"`);
  }
  // Kernel interfaces some code calls.
  for (const api of rng.some(KERNEL_API, rng.int(3))) {
    includes.add(api.header);
    if (api.header === 'linux/atomic.h') add({ variable: false, text: () => 'static atomic_t klpg_atomic_dummy = ATOMIC_INIT(0);' });
    const users = someObjects();
    for (const o of users) usable.get(o)!.push({ expr: (x) => `({ ${api.use(x)}; ${x}; })`, e: { name: api.header, kind: 'macro', users } });
  }
  // Static state: mutable (one instance, exported when shared), constant (copied), function pointers.
  for (let i = 0, n = rng.int(4); i < n; i++) {
    const stutter = rng.chance(0.3);
    const name = stutter ? `${patch}_v${i}` : `klpg_v${i}`;
    const kind = rng.pick(['mutable', 'const', 'array', 'hook', 'percpu'] as const);
    const e: Entity = { name, kind: 'variable', users: someObjects(), comment: rng.chance(0.4) ? comment(name) : undefined };
    const lead = e.comment ? `${e.comment}\n` : '';
    const ann = rng.pick(ANNOTATED_VARIABLE);
    if (kind === 'mutable') {
      add({ defines: name, variable: true, text: (v) => `${lead}static int ${name} ${ann}= ${v};` });
      offer(e, (x) => `(${name} += ${x})`);
    } else if (kind === 'const') {
      add({ defines: name, variable: true, text: (v) => `${lead}static const int ${name} = ${v + 10};` });
      offer(e, (x) => `(${x} - ${name})`);
    } else if (kind === 'array') {
      add({ defines: name, variable: true, text: () => `${lead}static unsigned long ${name}[4] ${ann}= { 1, 2, 3, 4 };` });
      offer(e, (x) => `(int)${name}[${x} & 3]`);
    } else if (kind === 'percpu') {
      add({ defines: name, variable: true, text: (v) => `${lead}static DEFINE_PER_CPU${v ? '' : '_READ_MOSTLY'}(int, ${name});` });
      offer(e, (x) => `({ this_cpu_add(${name}, ${x}); ${x}; })`);
    } else {
      add({ defines: name, variable: false, text: () => `${lead}static int (*${name})(int);` });
      offer(e, (x) => `(${name} ? ${name}(${x}) : ${x})`);
    }
  }
  // Relocation annotations: a symbol of one object, reached only from that object's code.
  for (const o of objects) {
    if (!rng.chance(0.3)) continue;
    const name = `klpg_${tag(o)}_sym`;
    const pos = rng.chance(0.5);
    const e: Entity = { name, kind: 'extern', users: new Set([o]), owner: o };
    const wrap = rng.chance(0.3) ? '\n\t' : ' ';
    entities.push(e);
    add({ defines: name, variable: false, text: () => `extern int ${name}${wrap}${pos ? `KLP_RELOC_SYMBOL_POS(${o}, ${o}, ${name}, 1)` : `KLP_RELOC_SYMBOL(${o}, ${o}, ${name})`};` });
    usable.get(o)!.push({ expr: (x) => `(${x} + ${name})`, e });
  }
  // A module parameter some code reads.
  if (rng.chance(0.2)) {
    const name = 'klpg_verbose';
    const e: Entity = { name, kind: 'param', users: someObjects() };
    add({ defines: name, variable: false, text: () => `static int ${name};\nmodule_param(${name}, int, 0644);\nMODULE_PARM_DESC(${name}, "generated parameter");` });
    offer(e, (x) => `(${name} ? ${x} : ${x} + 1)`);
  }

  // A function of vmlinux found at init through kallsyms_lookup_name, itself found through a kprobe (5.7+).
  const resolved = rng.chance(0.2);
  if (resolved) {
    includes.add('linux/kprobes.h');
    add({
      variable: false,
      text: () =>
        `/* kallsyms_lookup_name is not exported: find it with a kprobe */\nstatic unsigned long (*klpg_lookup)(const char *name);\n\nstatic int klpg_find_lookup(void)\n{\n\tstruct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };\n\tint ret = register_kprobe(&kp);\n\n\tif (ret < 0)\n\t\treturn ret;\n\tklpg_lookup = (unsigned long (*)(const char *))kp.addr;\n\tunregister_kprobe(&kp);\n\treturn 0;\n}`,
    });
    entities.push({ name: 'klpg_lookup', kind: 'variable', users: new Set() }, { name: 'klpg_find_lookup', kind: 'function', users: new Set() });
    const e: Entity = { name: 'klpg_resolved', kind: 'variable', users: someObjects() };
    add({ defines: e.name, variable: false, text: () => 'static int (*klpg_resolved)(int);' });
    offer(e, (x) => `(klpg_resolved ? klpg_resolved(${x}) : ${x})`);
  }

  // Helpers: each used by the objects of its users, written after what it uses.
  let crossObject = false;
  // Everything defined is used somewhere (an unused static is a compiler warning in the original too).
  const used = new Set<Entity>();
  const apply = (list: { expr: (x: string) => string; e: Entity }[], x: string): string =>
    list.reduce((acc, p) => {
      used.add(p.e);
      return p.expr(acc);
    }, x);
  for (let i = 0, n = rng.int(4); i < n; i++) {
    const name = `klpg_h${i}`;
    const users = someObjects();
    const kind = rng.pick(['pure', 'stateful', 'inline'] as const);
    // Only what all its users may use: the intersection of their offers.
    const common = [...users].map((o) => usable.get(o)!.filter((u) => [...users].every((p) => u.e.users.has(p))));
    let body = common[0]!.length ? apply(rng.some(common[0]!, 1 + rng.int(2)), 'x') : 'x';
    if (users.size > 1 && rng.chance(0.04)) {
      // The rare defect of a real livepatch: code several objects run reaches one object's symbol.
      const owned = entities.find((e) => e.owner && users.has(e.owner) && e.owner !== 'vmlinux');
      if (owned) {
        body = `(${body} + ${owned.name})`;
        crossObject = true;
        for (const u of users) owned.users.add(u);
      }
    }
    const e: Entity = { name, kind: 'function', users, comment: rng.chance(0.5) ? comment(name) : undefined };
    const lead = e.comment ? `${e.comment}\n` : '';
    const head = kind === 'inline' ? 'static inline ' : rng.pick(FUNCTION_PREFIX);
    const state = kind === 'stateful' ? `\tstatic int calls;\n\n\tcalls++; /* in ${name} */\n` : `\t/* in ${name} */\n`;
    const calls = kind === 'stateful' ? ' + (calls & 1)' : '';
    add({ defines: name, variable: true, text: (v) => `${lead}${head}int ${name}(int x)\n{\n${state}\treturn ${v ? body : `(${body}) + 0`}${calls};\n}` });
    offer(e, (x) => `${name}(${x})`);
  }

  // Replacement functions and each object's klp_func array.
  const funcs = new Map<string, { old: string; fn: string }[]>();
  const picks = new Map<string, { expr: (x: string) => string; e: Entity }[][]>();
  for (const o of objects) {
    const options = usable.get(o)!;
    picks.set(o, Array.from({ length: 1 + rng.int(2) }, () => rng.some(options, Math.min(options.length, 1 + rng.int(3)))));
    for (const list of picks.get(o)!) for (const p of list) used.add(p.e);
  }
  for (const e of entities) {
    if (used.has(e) || e.kind === 'type' || e.kind === 'macro' || e.kind === 'param' || !e.users.size) continue;
    const o = [...e.users][0]!;
    const u = usable.get(o)!.find((p) => p.e === e);
    if (u) picks.get(o)![0]!.push(u);
  }
  for (const o of objects) {
    const list: { old: string; fn: string }[] = [];
    for (const [k, pick] of picks.get(o)!.entries()) {
      const fn = `klpg_new_${tag(o)}${k}`;
      const old = `klpg_${tag(o)}_old${k}`;
      const e: Entity = { name: fn, kind: 'function', users: new Set([o]), comment: rng.chance(0.5) ? comment(fn) : undefined };
      entities.push(e);
      const lead = e.comment ? `${e.comment}\n` : '';
      const printf = rng.chance(0.15);
      const body = apply(pick, 'x');
      add({
        defines: fn,
        variable: true,
        text: (v) =>
          `${lead}${printf ? '__printf(1, 2) ' : ''}static int ${fn}(${printf ? 'const char *fmt, ...' : 'int x'})\n{\n${printf ? '\tint x = 1;\n\n' : ''}\t/* in ${fn} */\n\tx = ${body}; /* trailing */\n\treturn x + ${v};\n}`,
      });
      list.push({ old, fn });
    }
    funcs.set(o, list);
  }

  // The conditionals: runs of consecutive pieces under one block whose branches all define them.
  const withBlocks: string[] = [];
  let block = 0;
  for (let i = 0; i < pieces.length; ) {
    const p = pieces[i]!;
    if (!p.variable || !rng.chance(0.25)) {
      withBlocks.push(p.text(1));
      i++;
      continue;
    }
    let j = i + 1;
    while (j < pieces.length && pieces[j]!.variable && rng.chance(0.4)) j++;
    const run = pieces.slice(i, j);
    withBlocks.push(conditionalText(rng, run, block++));
    i = j;
  }

  const modinfo = rng.chance(0.9);
  if (!modinfo) warnings.add('missing-livepatch-modinfo');
  const lines: string[] = [];
  lines.push(rng.chance(0.5) ? '// SPDX-License-Identifier: GPL-2.0' : '/* SPDX-License-Identifier: GPL-2.0 */');
  lines.push(`/*\n * ${file} - generated livepatch ${index}\n */${rng.chance(0.7) ? '\n' : ''}`);
  // pr_fmt before the includes, or after them in place of printk.h's own (#undef first).
  const prFmt = rng.pick(['before', 'after', 'none'] as const);
  if (prFmt === 'before') lines.push('#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt\n');
  for (const inc of includes) lines.push(inc.startsWith('"') ? `#include ${inc}` : `#include <${inc}>`);
  if (prFmt === 'after') lines.push('\n#undef pr_fmt\n#define pr_fmt(fmt) "klpg: " fmt');
  if (includes.has('linux/version.h') === false && withBlocks.some((t) => t.includes('LINUX_VERSION_CODE'))) lines.push('#include <linux/version.h>');
  lines.push('');
  for (const t of withBlocks) lines.push(`${t}\n`);
  for (const o of objects) {
    lines.push(`static struct klp_func klpg_${tag(o)}_funcs[] = {\n${funcs.get(o)!.map((f) => `\t{\n\t\t.old_name = "${f.old}",\n\t\t.new_func = ${f.fn},\n\t},`).join('\n')}\n\t{ }\n};\n`);
  }
  const callbacks = new Map<string, string>();
  for (const o of objects) {
    if (!rng.chance(0.2)) continue;
    const cb = `klpg_${tag(o)}_pre_patch`;
    callbacks.set(o, cb);
    lines.push(`static int ${cb}(struct klp_object *obj)\n{\n\treturn 0;\n}\n`);
    entities.push({ name: cb, kind: 'function', users: new Set([o]) });
  }
  const objEntries = objects.map((o) =>
    [`\t{`, ...(o === 'vmlinux' ? ['\t\t/* name being NULL means vmlinux */'] : [`\t\t.name = "${o}",`]), `\t\t.funcs = klpg_${tag(o)}_funcs,`, ...(callbacks.has(o) ? [`\t\t.callbacks = {\n\t\t\t.pre_patch = ${callbacks.get(o)},\n\t\t},`] : []), '\t},'].join('\n'),
  );
  lines.push(`static struct klp_object klpg_objs[] = {\n${objEntries.join('\n')}\n\t{ }\n};\n`);
  const runtime = rng.chance(0.02);
  let refusal: string | undefined;
  if (runtime) {
    refusal = 'patch-built-at-run-time';
    lines.push('static struct klp_patch klpg_patch;\n');
    lines.push(`static int klpg_init(void)\n{\n\tklpg_patch.mod = THIS_MODULE;\n\tklpg_patch.objs = klpg_objs;\n\treturn klp_enable_patch(&klpg_patch);\n}\n`);
  } else {
    lines.push(`static struct klp_patch klpg_patch = {\n\t.mod = THIS_MODULE,\n\t.objs = klpg_objs,${rng.chance(0.2) ? '\n\t.replace = true,' : ''}\n};\n`);
    const resolve = resolved ? '\tint ret = klpg_find_lookup();\n\n\tif (ret)\n\t\treturn ret;\n\tklpg_resolved = (int (*)(int))klpg_lookup("klpg_target_fn");\n' : '';
    lines.push(`static int klpg_init(void)\n{\n${resolve}\treturn klp_enable_patch(&klpg_patch);\n}\n`);
  }
  // The exit resets state only one object's code uses: that statement goes to the object's own module.
  const resets = entities.filter((e) => e.kind === 'variable' && e.users.size === 1 && /^(?:static int \w+ [^=]*= \d+;)$/m.test(pieceText(pieces, e.name)) && rng.chance(0.5));
  lines.push(`static void klpg_exit(void)\n{\n${resets.map((e) => `\t${e.name} = 0; /* reset ${e.name} */\n`).join('')}\t/* nothing to free */\n}\n`);
  lines.push('module_init(klpg_init);\nmodule_exit(klpg_exit);\nMODULE_LICENSE("GPL");');
  if (modinfo) lines.push('MODULE_INFO(livepatch, "Y");');
  if (rng.chance(0.3)) lines.push('MODULE_DESCRIPTION("generated livepatch");');
  let source = `${lines.join('\n')}\n`;
  // Sometimes a CRLF source: its split must come out CRLF throughout.
  if (rng.chance(0.05)) {
    source = source.replace(/\n/g, '\r\n');
    for (const [name, text] of headers) headers.set(name, text.replace(/\n/g, '\r\n'));
  }
  return { file, source, headers, modules, entities, refusal, warnings, crossObject };
}

/** A run of pieces under `#if`, with an `#else` (or `#elif` and `#else`) whose branches define the same names. */
function conditionalText(rng: Rng, run: Piece[], block: number): string {
  const nBranches = rng.chance(0.3) ? 3 : 2;
  const open = rng.pick(CONDITIONS)(block + 1);
  const elif = `#elif LINUX_VERSION_CODE >= KERNEL_VERSION(3, ${block + 1}, 0)`;
  const out: string[] = [];
  if (rng.chance(0.4)) out.push(`/* block ${block}: the variants of ${run.map((p) => p.defines).join(', ')} */`);
  out.push(open);
  for (let b = 0; b < nBranches; b++) {
    if (b === 1) out.push(nBranches === 3 ? elif : rng.chance(0.3) ? '#else /* generated */' : '#else');
    if (b === 2) out.push('#else');
    const texts = run.map((p) => p.text(b));
    // Sometimes one piece of the branch is itself under a nested conditional of the same shape.
    if (texts.length && rng.chance(0.15)) {
      const k = rng.int(texts.length);
      texts[k] = `#ifdef CONFIG_SMP\n${run[k]!.text(b)}\n#else\n${run[k]!.text(b + 1)}\n#endif /* CONFIG_SMP */`;
    }
    out.push(texts.join(rng.chance(0.5) ? '\n\n' : '\n'));
    if (rng.chance(0.2)) out.push(`/* end of branch ${b} */`);
  }
  out.push(rng.chance(0.5) ? `#endif /* block ${block} */` : '#endif');
  return out.join('\n');
}

/** The first variant of the piece defining `name`, or ''. */
function pieceText(pieces: Piece[], name: string): string {
  return pieces.find((p) => p.defines === name)?.text(1) ?? '';
}
