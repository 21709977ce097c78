// Generates k target modules and a livepatch fixing one function in each:
// the model checker's benchmark and scale test input. Target i is
// `klpmc_t<i>` (file klpmc-t<i>.c) with a function klpmc_t<i>_value(); the
// livepatch `klpmc_fix<k>` replaces each of them.
export function targetSource(i) {
  return [
    '// SPDX-License-Identifier: GPL-2.0',
    '#include <linux/module.h>',
    '#include <linux/kernel.h>',
    '',
    `noinline int klpmc_t${i}_value(int v)`,
    '{',
    `\treturn v + ${i};`,
    '}',
    '',
    `static int __init klpmc_t${i}_init(void)`,
    '{',
    `\tpr_info("klpmc_t${i}: %d\\n", klpmc_t${i}_value(1));`,
    '\treturn 0;',
    '}',
    '',
    `static void __exit klpmc_t${i}_exit(void)`,
    '{',
    '}',
    '',
    `module_init(klpmc_t${i}_init);`,
    `module_exit(klpmc_t${i}_exit);`,
    'MODULE_LICENSE("GPL");',
    '',
  ].join('\n');
}

export function livepatchSource(k) {
  const out = ['// SPDX-License-Identifier: GPL-2.0', '#include <linux/module.h>', '#include <linux/kernel.h>', '#include <linux/livepatch.h>', ''];
  for (let i = 0; i < k; i++) {
    out.push(`static int livepatch_t${i}_value(int v)\n{\n\treturn v + ${i} + 1;\n}\n`);
    out.push(`static struct klp_func t${i}_funcs[] = {\n\t{\n\t\t.old_name = "klpmc_t${i}_value",\n\t\t.new_func = livepatch_t${i}_value,\n\t},\n\t{ }\n};\n`);
  }
  const objs = [];
  for (let i = 0; i < k; i++) objs.push(`\t{\n\t\t.name = "klpmc_t${i}",\n\t\t.funcs = t${i}_funcs,\n\t},`);
  out.push(`static struct klp_object objs[] = {\n${objs.join('\n')}\n\t{ }\n};\n`);
  out.push('static struct klp_patch patch = {\n\t.mod = THIS_MODULE,\n\t.objs = objs,\n};\n');
  out.push('static int livepatch_init(void)\n{\n\treturn klp_enable_patch(&patch);\n}\n');
  out.push('static void livepatch_exit(void)\n{\n}\n');
  out.push('module_init(livepatch_init);\nmodule_exit(livepatch_exit);\nMODULE_LICENSE("GPL");\nMODULE_INFO(livepatch, "Y");\n');
  return out.join('\n');
}

/**
 * Target i of a chain of dependent modules: `klpdep_t<i>` exports
 * klpdep_t<i>_value(), which calls klpdep_t<i-1>_value() (so each needs the
 * one before, and the model checker explores them all together). The
 * livepatch `klpdep_fix<k>` replaces each.
 */
export function dependentTargetSource(i) {
  return [
    '// SPDX-License-Identifier: GPL-2.0',
    '#include <linux/module.h>',
    '#include <linux/kernel.h>',
    '',
    ...(i > 0 ? [`int klpdep_t${i - 1}_value(int v);`, ''] : []),
    `noinline int klpdep_t${i}_value(int v)`,
    '{',
    i > 0 ? `\treturn klpdep_t${i - 1}_value(v) + 1;` : '\treturn v;',
    '}',
    `EXPORT_SYMBOL_GPL(klpdep_t${i}_value);`,
    '',
    'MODULE_LICENSE("GPL");',
    '',
  ].join('\n');
}

export function dependentLivepatchSource(k) {
  return livepatchSource(k).replaceAll('klpmc_t', 'klpdep_t');
}
