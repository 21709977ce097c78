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
});
