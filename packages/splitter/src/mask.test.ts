import { describe, expect, it } from 'vitest';
import { maskAnnotations } from './mask.js';
import { parseC } from './parse.js';

describe('masking kernel idioms', () => {
  it('keeps every offset and newline', () => {
    const src = 'static int __init f(void)\n{\n\tlist_for_each_entry(p, &h, list) {\n\t}\n\treturn 0;\n}\nstatic DECLARE_WORK(w,\n\t\tfn);\n';
    const masked = maskAnnotations(src);
    expect(masked.length).toBe(src.length);
    expect(masked.split('\n').length).toBe(src.split('\n').length);
  });

  it('lets tree-sitter parse annotations, loop macros and DECLARE_ macros without errors', () => {
    const src = 'static DECLARE_DELAYED_WORK(d, fn);\nstatic void __exit f(struct list_head *h)\n{\n\tstruct x *p, *t;\n\n\tlist_for_each_entry_safe(p, t, h, list) {\n\t\tkfree(p);\n\t}\n}\n';
    expect(parseC(src).rootNode.hasError).toBe(false);
  });

  it('reads a livepatch relocation annotation as the extern declaration it is', () => {
    const src = 'extern int override_release(char *release, size_t len)\n\tKLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, override_release, 0);\nint f(void)\n{\n\textern int stfu KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, stfu.0, 0);\n\treturn stfu;\n}\n';
    expect(parseC(src).rootNode.hasError).toBe(false);
  });

  it('hides annotations with arguments whole, outside comments and strings, and leaves an unclosed one', () => {
    const src = 'static int x __section(".data(") __aligned(sizeof(long)) = 1; /* __printf(1, */\nconst char *s = "__aligned(8)";\nint y __attribute__((unused\n';
    const masked = maskAnnotations(src);
    expect(masked.length).toBe(src.length);
    expect(masked.split('\n')[0]).toBe(`static int x ${' '.repeat('__section(".data(") __aligned(sizeof(long))'.length)} = 1; /* __printf(1, */`);
    expect(masked.split('\n')[1]).toBe('const char *s = "__aligned(8)";');
    expect(masked.split('\n')[2]).toBe('int y __attribute__((unused');
  });

  it('parses GNU attributes, kernel annotations and relocation annotations without errors', () => {
    const src = [
      '__printf(2, 3) static void log_it(int level, const char *fmt, ...);',
      'static int hits __ro_after_init __aligned(64);',
      'struct s { int a; } __packed __randomize_layout;',
      'static void __cold __noreturn stop(void);',
      'extern int max_threads KLP_RELOC_SYMBOL(vmlinux, vmlinux, max_threads);',
      'extern char c\n\tKLP_RELOC_SYMBOL_POS(mod, mod, c, 1);',
      'static int __attribute__((__section__(".x"), used)) y;',
    ].join('\n');
    expect(parseC(src).rootNode.hasError).toBe(false);
  });
});
