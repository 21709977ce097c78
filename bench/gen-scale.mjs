// Livepatch sources of a given size in several shapes, for bench/split-scale.bench.mjs: each a real
// livepatch whose bulk is the shape's items (the split keeps them all).
import { generateLivepatch } from './gen-livepatch.mjs';

/**
 * The bench's usual livepatch (20 patched modules, bench/gen-livepatch.mjs) with `bulk` after its
 * #includes; its shared helper reads `use`, so the main part needs what the bulk defines.
 */
function around(bulk, use) {
  const lp = generateLivepatch(2, 2);
  const at = lp.indexOf('#define BENCH_LIMIT');
  return `${lp.slice(0, at)}${bulk}${lp.slice(at).replace('return v > BENCH_LIMIT ? BENCH_LIMIT : v;', `return (v > BENCH_LIMIT ? BENCH_LIMIT : v) + 0 * (${use});`)}`;
}

/** Items of `make(i)` until the source reaches `bytes`; `use(n)` names what the patch reads of n items. */
function fill(bytes, make, use) {
  const parts = [];
  let size = around('', '0').length;
  let n = 0;
  while (size < bytes) {
    const item = make(n++);
    parts.push(item);
    size += item.length;
  }
  return around(parts.join(''), use(n));
}

export const SHAPES = {
  /** #define lines (the issue's 10k/40k/80k cases). */
  defines: (bytes) => fill(bytes, (i) => `#define KLP_SCALE_${i} (${i} + 1)\n`, (n) => `KLP_SCALE_${n - 1}`),
  /** Static variables, one declaration each. */
  declarations: (bytes) => fill(bytes, (i) => `static int klp_scale_var_${i} = ${i};\n`, (n) => `klp_scale_var_${n - 1}`),
  /** Functions each calling the one before: a dependency chain as long as the file. */
  'function chain': (bytes) => fill(bytes, (i) => (i === 0 ? 'static int klp_scale_f0(int x)\n{\n\treturn x;\n}\n\n' : `static int klp_scale_f${i}(int x)\n{\n\treturn klp_scale_f${i - 1}(x) + ${i};\n}\n\n`), (n) => `klp_scale_f${n - 1}(1)`),
  /** Functions under #ifdef blocks of their own. */
  'ifdef blocks': (bytes) => fill(bytes, (i) => `#ifdef CONFIG_KLP_SCALE_${i}\nstatic int klp_scale_if_${i}(int x)\n{\n\treturn x + ${i};\n}\n#endif\n\n`, () => '1'),
  /** 20 patched modules, their klp_func arrays growing (bench/gen-livepatch.mjs). */
  'objects x funcs': (bytes) => {
    const per = generateLivepatch(20, 100).length / 100;
    let n = Math.max(1, Math.floor(bytes / per));
    let src = generateLivepatch(20, n);
    while (src.length > bytes && n > 1) src = generateLivepatch(20, (n = Math.floor(n * 0.98)));
    return src;
  },
};
