// Generates a livepatch source with `objects` patched modules of `funcs`
// functions each, plus shared macros, a shared helper and callbacks: the
// splitter benchmark's input.
export function generateLivepatch(objects, funcs) {
  const out = [];
  out.push('// SPDX-License-Identifier: GPL-2.0');
  out.push('/*\n * Generated benchmark livepatch.\n */\n');
  out.push('#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt\n');
  out.push('#include <linux/module.h>\n#include <linux/kernel.h>\n#include <linux/livepatch.h>\n');
  out.push('#define BENCH_LIMIT\t1000\n');
  out.push('static int bench_clamp(int v)\n{\n\treturn v > BENCH_LIMIT ? BENCH_LIMIT : v;\n}\n');
  out.push('static int bench_pre_patch(struct klp_object *obj)\n{\n\tpr_info("patching %s\\n", obj->name);\n\treturn 0;\n}\n');
  for (let o = 0; o < objects; o++) {
    for (let f = 0; f < funcs; f++) {
      out.push(`/* fix ${f} for module ${o} */\nstatic int bench_m${o}_f${f}(int v)\n{\n\tint r = bench_clamp(v + ${f});\n\n\tif (r < 0)\n\t\treturn -EINVAL;\n\treturn r * ${o + 1};\n}\n`);
    }
    const entries = [];
    for (let f = 0; f < funcs; f++) entries.push(`\t{\n\t\t.old_name = "m${o}_f${f}",\n\t\t.new_func = bench_m${o}_f${f},\n\t},`);
    out.push(`static struct klp_func m${o}_funcs[] = {\n${entries.join('\n')}\n\t{ }\n};\n`);
  }
  const objs = [];
  for (let o = 0; o < objects; o++) {
    objs.push(`\t{\n\t\t.name = "bench_mod${o}",\n\t\t.funcs = m${o}_funcs,\n\t\t.callbacks = {\n\t\t\t.pre_patch = bench_pre_patch,\n\t\t},\n\t},`);
  }
  out.push(`static struct klp_object objs[] = {\n${objs.join('\n')}\n\t{ }\n};\n`);
  out.push('static struct klp_patch patch = {\n\t.mod = THIS_MODULE,\n\t.objs = objs,\n};\n');
  out.push('static int bench_init(void)\n{\n\treturn klp_enable_patch(&patch);\n}\n');
  out.push('static void bench_exit(void)\n{\n}\n');
  out.push('module_init(bench_init);\nmodule_exit(bench_exit);\nMODULE_LICENSE("GPL");\nMODULE_INFO(livepatch, "Y");\n');
  return out.join('\n');
}
