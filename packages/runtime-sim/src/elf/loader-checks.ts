import { elfConstants as C } from '@klp-split/kernel-facts';

/** The section header fields the checks need (a subset of reader.ts's ElfSection). */
interface SectionHeader {
  index: number;
  name: string;
  type: number;
  flags: number;
  size: number;
  info: number;
  addralign: number;
}

/**
 * What Linux 6.1's module loader (kernel/module/main.c) would do wrong or
 * refuse with a section table that is well-formed ELF, checked so that
 * verify never calls such a module fine.
 *
 * Size: layout_sections() adds every SHF_ALLOC section into the module's
 * layouts, whose sizes are `unsigned int` (struct module_layout), and
 * move_module() asks module_alloc() for them; x86-64's module_alloc()
 * returns NULL for more than MODULES_LEN and the load fails with -ENOMEM
 * ("Cannot allocate memory"). A section of 4 GiB or more does not even reach
 * that check: module_get_offset() wraps the 32-bit size and the section
 * would be placed over the memory that follows.
 *
 * Relocations: apply_relocations() applies a relocation section to the
 * section its sh_info names, and silently skips it when that section is not
 * SHF_ALLOC, so a `.rela.text` whose sh_info names anything but `.text`
 * leaves `.text` unrelocated with no message.
 */

/** x86-64 MODULES_LEN: MODULES_END (0xffffffffff000000) - MODULES_VADDR (0xffffffffc0000000), 1008 MiB. */
const MODULES_LEN = 0xffffffffff000000n - 0xffffffffc0000000n;
const MODULES_LEN_BYTES = Number(MODULES_LEN);
const U32_LIMIT = 2 ** 32;
const PAGE = 4096;
/** The flag on livepatch relocation sections (.klp.rela.*), which the livepatch core applies itself. */
const SHF_RELA_LIVEPATCH = 0x00100000;

const RELOCATION_TYPES = new Set([C.SHT_REL, C.SHT_RELA]);
const NOT_RELOCATABLE = new Set([C.SHT_NULL, C.SHT_SYMTAB, C.SHT_STRTAB, C.SHT_REL, C.SHT_RELA, C.SHT_SYMTAB_SHNDX]);

function mib(n: number): string {
  return `${(n / (1 << 20)).toFixed(0)} MiB`;
}

export function loaderProblem(sections: SectionHeader[]): string | undefined {
  let total = 0;
  for (const s of sections) {
    if (!(s.flags & C.SHF_ALLOC)) continue;
    if (s.size >= U32_LIMIT) {
      return `SHF_ALLOC section ${s.index} '${s.name}' has sh_size ${s.size}; Linux 6.1 lays module sections out in 32-bit sizes, so the loader cannot place it (and module_alloc() refuses more than MODULES_LEN, ${mib(MODULES_LEN_BYTES)}: -ENOMEM, Cannot allocate memory)`;
    }
    const align = s.addralign > 1 ? s.addralign : 1;
    total = Math.ceil(total / align) * align + s.size;
  }
  if (Math.ceil(total / PAGE) * PAGE > MODULES_LEN_BYTES) {
    return `the module's allocated sections need ${total} bytes; x86-64 module_alloc() refuses more than MODULES_LEN (${mib(MODULES_LEN_BYTES)}) and the load fails with -ENOMEM (Cannot allocate memory)`;
  }
  const byName = new Map<string, SectionHeader>();
  for (const s of sections) if (s.name !== '' && !byName.has(s.name)) byName.set(s.name, s);
  for (const s of sections) {
    if (!RELOCATION_TYPES.has(s.type)) continue;
    const target = sections[s.info];
    if (!target) continue; // readRelas names a missing target
    if (target.index === s.index || NOT_RELOCATABLE.has(target.type)) {
      return `relocation section ${s.index} '${s.name}' applies to section ${s.info} '${target.name}', which is ${target.index === s.index ? 'itself' : 'not a section relocations apply to'}; the kernel would skip it and leave its code unrelocated`;
    }
    // A .rela<name> whose <name> is an allocated section must apply to that section.
    const base = s.flags & SHF_RELA_LIVEPATCH ? undefined : /^\.rela?(.+)$/.exec(s.name)?.[1];
    const named = base === undefined ? undefined : byName.get(base);
    if (named && named.flags & C.SHF_ALLOC && named.index !== target.index) {
      return `relocation section ${s.index} '${s.name}' applies to section ${s.info} '${target.name}', not '${named.name}'; ${target.flags & C.SHF_ALLOC ? 'the relocations would patch the wrong section' : "the kernel would skip it (its target is not SHF_ALLOC) and leave '" + named.name + "' unrelocated"}`;
    }
  }
  return undefined;
}
