import { elfConstants as C, type ElfFile } from '@klp-split/kernel-facts';
import type { RelocEdit } from './reloc-edit.js';
import type { ClassicSplitSpec, SplitMainSpec, SplitModuleSpec, SplitPartSpec, SplitTargetSpec } from './split-module-source.js';

/**
 * The split differential fault cases: each loads split modules with one
 * fault (or one situation of the split design the kernel must handle) and
 * runs commands in the scenario language of `klp-split simulate`, which the
 * real split kernel runs too (test/differential/split-faults-guest.sh).
 *
 * Modules come from two places: classic livepatches split by `klp-split
 * split` (the natural input), and modules written directly with the split
 * API for faults klp-split never writes. Module names are unique across the
 * catalogue (one /lib/modules for all cases); a case may reuse another's
 * modules, since every case ends with nothing loaded.
 */
export interface SplitFaultCase {
  id: string;
  what: string;
  /** Classic livepatches (by name) split by klp-split: the first is `simulate`'s directory, the others --also. */
  splits: string[];
  /** Modules written directly (split API) and targets, by name: `simulate --target`. */
  modules: string[];
  steps: string[];
  /** A line the real kernel's transcript must contain: the case really does what it says. */
  reaction: string;
  /**
   * The guest's steps when they differ from the simulator's (an interleaving
   * the simulator is told step by step and the guest brings about with
   * background commands): `@bg <cmd>` runs it in the background, `@until
   * <path>` waits for a file, `@write <value> <path>` writes one, `@wait`
   * waits for the background command and reports it.
   */
  guestSteps?: string[];
  /** Modules the kernel keeps pinned for good (a forced transition): only the last case may leave any. */
  leavesPinned?: string[];
}

const classic = (name: string, targets: string[], extra: Partial<ClassicSplitSpec> = {}): ClassicSplitSpec => ({ kind: 'classic', name, targets, ...extra });
const main = (name: string, objNames: string[], extra: Partial<SplitMainSpec> = {}): SplitMainSpec => ({ kind: 'main', name, objNames, ...extra });
const part = (patchName: string, object: string, extra: Partial<SplitPartSpec> = {}): SplitPartSpec => ({ kind: 'part', name: `${patchName}__${object}`, patchName, object, ...extra });
const target = (name: string, extra: Partial<SplitTargetSpec> = {}): SplitTargetSpec => ({ kind: 'target', name, ...extra });
const disable = (patch: string): string => `echo 0 > /sys/kernel/livepatch/${patch}/enabled`;

const TA = 'klpsf_ta';
const TB = 'klpsf_tb';
const LONG_OBJECT = `klpsf_${'x'.repeat(45)}`;

/** Every module of the catalogue. */
export const SPLIT_FAULT_MODULES: SplitModuleSpec[] = [
  classic('klpsf_a', [TA, TB]),
  classic('klpsf_r1', [TA]),
  classic('klpsf_r2', [TA], { replace: true }),
  classic('klpsf_r3', [], { replace: true }),
  target(TA),
  target(TB),
  target('klpsf_tx', { exportsValue: true }),
  target('klpsf_tk', { exportsKey: true }),
  target('klpsf_tbusy', { busy: true }),
  classic('klpsf_f', ['klpsf_tbusy']),
  classic('klpsf_f2', ['klpsf_tbusy'], { replace: true }),
  main('klpsf_miss', [TA, TB]),
  main('klpsf_wn', [TA]),
  part('klpsf_wn', TB, { name: `klpsf_wn__${TA}` }),
  main('klpsf_on', [TA]),
  part('klpsf_on', TB),
  part('klpsf_nl', TA),
  main('klpsf_st', [TA]),
  part('klpsf_st', TA, { links: false }),
  main('klpsf_nm', [TA]),
  part('klpsf_nm', TA, { notMarked: true }),
  main('klpsf_pn', [TA], { patchName: 'klpsf_other' }),
  main('klpsf_long', [LONG_OBJECT]),
  main('klpsf_inv', ['vmlinux']),
  main('klpsf_dup', [TA, TB, TA]),
  main('klpsf_dl', ['klpsf_tx']),
  part('klpsf_dl', 'klpsf_tx', { uses: 'klpsf_tx_value', callbacks: true, noKlpRelocs: true }),
  main('klpsf_rl', ['klpsf_tx']),
  part('klpsf_rl', 'klpsf_tx', { uses: 'klpsf_tx_value', callbacks: true }),
  target('klpsf_ts'),
  main('klpsf_rl2', ['klpsf_ts']),
  part('klpsf_rl2', 'klpsf_ts', { waitsForGo: true }),
  main('klpsf_sk', ['klpsf_tk']),
  part('klpsf_sk', 'klpsf_tk', { usesKey: 'klpsf_tk_key' }),
  main('klpsf_ex', [TA], { exportsShared: true }),
  part('klpsf_ex', TA, { uses: 'klpsf_ex_shared', callbacks: true }),
  // Edited after the build (SPLIT_FAULT_EDITS): what the kernel's loaders refuse.
  main('klpsf_cr', ['klpsf_tx']),
  part('klpsf_cr', 'klpsf_tx', { uses: 'klpsf_tx_value' }),
  target('klpsf_ei'),
  target('klpsf_ec'),
  target('klpsf_eu'),
  target('klpsf_ez'),
  main('klpsf_mn', [TA], { notMarked: true }),
  main('klpsf_vn', [TA], { objName: TA }),
];

/** The first call of a module's .text (__fentry__'s, a PLT32): where the relocation edits below strike. */
function firstCall(elf: ElfFile): { index: number; offset: number } {
  const rs = elf.relocations.find((r) => r.section.name === '.rela.text')!;
  const index = rs.relocs.findIndex((r) => r.type === C.R_X86_64_PLT32 || r.type === C.R_X86_64_PC32);
  return { index, offset: rs.relocs[index]!.offset };
}

/**
 * Edits of built modules (reloc-edit.ts), applied before either side runs
 * them: faults a broken tool would write, one rule of the kernel each.
 */
export const SPLIT_FAULT_EDITS: { module: string; edits: (elf: ElfFile) => RelocEdit[] }[] = [
  // kernel/patches/0005, klp_module_carries(): the per-object module of klpsf_tx with relocations for klpsf_ta.
  {
    module: 'klpsf_cr__klpsf_tx',
    edits: (elf) => elf.sections.filter((s) => s.name.startsWith('.klp.rela.klpsf_tx.')).map((s) => ({ kind: 'section-name', from: s.name, to: s.name.replace('.klp.rela.klpsf_tx.', '.klp.rela.klpsf_ta.') })),
  },
  // simplify_symbols(): a reserved section index, and a common symbol.
  { module: 'klpsf_ei', edits: () => [{ kind: 'symbol-shndx', symbol: 'klpsf_ei_work', shndx: 0xff05 }] },
  { module: 'klpsf_ec', edits: () => [{ kind: 'symbol-shndx', symbol: 'klpsf_ec_work', shndx: C.SHN_COMMON }] },
  // __apply_relocate_add(): a type it does not know (R_X86_64_16), and a field that is not 0.
  { module: 'klpsf_eu', edits: (elf) => [{ kind: 'rela', section: '.rela.text', index: firstCall(elf).index, type: 12 }] },
  { module: 'klpsf_ez', edits: (elf) => [{ kind: 'byte', section: '.text', offset: firstCall(elf).offset + 1, value: 0x5a }] },
];

export const SPLIT_FAULT_CASES: SplitFaultCase[] = [
  {
    id: 'parts-loaded-with-patch',
    what: 'the patch loads the per-object module of a loaded target, one transition for all',
    splits: ['klpsf_a'],
    modules: [TA, TB],
    steps: [`modprobe ${TA}`, 'modprobe klpsf_a', disable('klpsf_a'), 'rmmod klpsf_a', `rmmod ${TA}`],
    reaction: "livepatch: 'klpsf_a': patching complete",
  },
  {
    id: 'target-after-patch',
    what: 'a target loaded after the patch gets its per-object module, which patches it from its init',
    splits: ['klpsf_a'],
    modules: [TA, TB],
    steps: ['modprobe klpsf_a', `modprobe ${TB}`, `rmmod ${TB}`, disable('klpsf_a'), 'rmmod klpsf_a'],
    reaction: `livepatch: applying patch 'klpsf_a' to loading module '${TB}'`,
  },
  {
    id: 'target-removed-while-patched',
    what: 'the target goes: its object is reverted and its per-object module removed',
    splits: ['klpsf_a'],
    modules: [TA, TB],
    steps: [`modprobe ${TA}`, 'modprobe klpsf_a', `rmmod ${TA}`, `modprobe ${TA}`, disable('klpsf_a'), 'rmmod klpsf_a'],
    reaction: `livepatch: reverting patch 'klpsf_a' on unloading module '${TA}'`,
  },
  {
    id: 'by-hand-without-main-module',
    what: "a per-object module loaded by hand without its main module, whose export it uses",
    splits: ['klpsf_a'],
    modules: [TA, TB],
    steps: [`modprobe ${TA}`, `insmod klpsf_a__${TA}`],
    reaction: `klpsf_a__${TA}: Unknown symbol klpsf_a_pre_patch_ret (err -2)`,
  },
  {
    id: 'by-hand-without-target',
    what: 'a per-object module loaded by hand while its target is not loaded',
    splits: ['klpsf_a'],
    modules: [TA, TB],
    steps: ['modprobe klpsf_a', `insmod klpsf_a__${TB}`, disable('klpsf_a'), 'rmmod klpsf_a'],
    reaction: `livepatch: module '${TB}' is not loaded`,
  },
  {
    id: 'by-hand-twice',
    what: 'a per-object module inserted again while it is linked',
    splits: ['klpsf_a'],
    modules: [TA, TB],
    steps: [`modprobe ${TA}`, 'modprobe klpsf_a', `insmod klpsf_a__${TA}`, disable('klpsf_a'), 'rmmod klpsf_a'],
    reaction: `insmod: ERROR: could not insert module klpsf_a__${TA}: File exists`,
  },
  {
    id: 'pre-patch-fails-in-part',
    what: 'a pre-patch callback of a per-object module fails for a target loaded later',
    splits: ['klpsf_a'],
    modules: [TA, TB],
    steps: ['modprobe klpsf_a', '@callback klpsf_a pre_patch=-19', `modprobe ${TB}`, disable('klpsf_a'), 'rmmod klpsf_a'],
    reaction: `livepatch: pre-patch callback failed for object '${TB}'`,
  },
  {
    id: 'pre-patch-fails-on-enable',
    what: 'the pre-patch callbacks fail when the patch is enabled with a per-object module loaded',
    splits: ['klpsf_a'],
    modules: [TA, TB],
    steps: [`modprobe ${TA}`, 'modprobe klpsf_a pre_patch_ret=-19', `modprobe ${TB}`],
    reaction: "livepatch: pre-patch callback failed for object 'vmlinux'",
  },
  {
    id: 'part-missing-on-enable',
    what: 'the per-object module of a loaded target does not exist: the patch fails',
    splits: ['klpsf_a'],
    modules: ['klpsf_miss', TA, TB],
    steps: [`modprobe ${TA}`, 'modprobe klpsf_miss'],
    reaction: `livepatch: Module load failed: klpsf_miss__${TA}`,
  },
  {
    id: 'part-missing-for-coming-target',
    what: 'the per-object module of a target loaded later does not exist: the target is refused',
    splits: ['klpsf_a'],
    modules: ['klpsf_miss', TA, TB],
    steps: ['modprobe klpsf_miss', `modprobe ${TB}`, disable('klpsf_miss'), 'rmmod klpsf_miss'],
    reaction: `livepatch: patch 'klpsf_miss' failed for module '${TB}', refusing to load module '${TB}'`,
  },
  {
    id: 'part-wrong-name',
    what: "a per-object module whose name is not '<patch>__<object>' of the object it carries",
    splits: ['klpsf_a'],
    modules: ['klpsf_wn', `klpsf_wn__${TA}`, TA],
    steps: [`modprobe ${TA}`, 'modprobe klpsf_wn'],
    reaction: `livepatch: module 'klpsf_wn__${TA}' cannot carry object '${TB}' of patch 'klpsf_wn': it must be named 'klpsf_wn__${TB}'`,
  },
  {
    id: 'object-not-in-obj-names',
    what: "a per-object module for an object the patch's obj_names does not list",
    splits: ['klpsf_a'],
    modules: ['klpsf_on', `klpsf_on__${TB}`, TB],
    steps: [`modprobe ${TB}`, 'modprobe klpsf_on', `insmod klpsf_on__${TB}`, disable('klpsf_on'), 'rmmod klpsf_on'],
    reaction: `livepatch: object '${TB}' is not in obj_names of patch 'klpsf_on'`,
  },
  {
    id: 'main-patch-not-loaded',
    what: 'a per-object module (using no export of its main module) loaded while its patch is not',
    splits: ['klpsf_a'],
    modules: [`klpsf_nl__${TA}`, TA],
    steps: [`modprobe ${TA}`, `insmod klpsf_nl__${TA}`, `modprobe klpsf_nl__${TA}`],
    reaction: "livepatch: patch 'klpsf_nl' is not loaded",
  },
  {
    id: 'stale-part-for-coming-target',
    what: 'a per-object module that links nothing stays loaded: the stale-module guard refuses the target',
    splits: ['klpsf_a'],
    modules: ['klpsf_st', `klpsf_st__${TA}`, TA],
    steps: ['modprobe klpsf_st', `modprobe ${TA}`, `modprobe ${TA}`, disable('klpsf_st'), 'rmmod klpsf_st'],
    reaction: `livepatch: per-object module 'klpsf_st__${TA}' is loaded but not linked to patch 'klpsf_st'`,
  },
  {
    id: 'stale-part-on-enable',
    what: 'the same at enable: the patch fails with -EBUSY',
    splits: ['klpsf_a'],
    modules: ['klpsf_st', `klpsf_st__${TA}`, TA],
    steps: [`modprobe ${TA}`, 'modprobe klpsf_st'],
    reaction: `livepatch: per-object module 'klpsf_st__${TA}' is loaded but not linked to patch 'klpsf_st'`,
  },
  {
    id: 'part-not-marked-livepatch',
    what: 'a per-object module without MODULE_INFO(livepatch, "Y")',
    splits: ['klpsf_a'],
    modules: ['klpsf_nm', `klpsf_nm__${TA}`, TA],
    steps: [`modprobe ${TA}`, 'modprobe klpsf_nm'],
    reaction: `livepatch: module klpsf_nm__${TA} is not marked as a livepatch module`,
  },
  {
    id: 'patch-name-not-module-name',
    what: "the vmlinux object's patch_name is not its module's name",
    splits: ['klpsf_a'],
    modules: ['klpsf_pn'],
    steps: ['modprobe klpsf_pn'],
    reaction: "livepatch: patch_name 'klpsf_other' of the vmlinux object is not the name of its module 'klpsf_pn'",
  },
  {
    id: 'part-name-too-long',
    what: "'<patch>__<object>' does not fit in a module name",
    splits: ['klpsf_a'],
    modules: ['klpsf_long'],
    steps: ['modprobe klpsf_long'],
    reaction: `livepatch: patch 'klpsf_long': per-object module name 'klpsf_long__${LONG_OBJECT}' is too long`,
  },
  {
    id: 'vmlinux-in-obj-names',
    what: 'obj_names lists vmlinux',
    splits: ['klpsf_a'],
    modules: ['klpsf_inv'],
    steps: ['modprobe klpsf_inv'],
    reaction: "livepatch: patch 'klpsf_inv': invalid object name 'vmlinux' in obj_names",
  },
  {
    id: 'obj-names-twice',
    what: 'obj_names lists an object twice',
    splits: ['klpsf_a'],
    modules: ['klpsf_dup'],
    steps: ['modprobe klpsf_dup'],
    reaction: `livepatch: patch 'klpsf_dup': object '${TA}' is listed twice in obj_names`,
  },
  {
    id: 'main-export-used-by-part',
    what: "per-object modules using their main module's export load while it is COMING, and do not pin it",
    splits: ['klpsf_a'],
    modules: ['klpsf_ex', `klpsf_ex__${TA}`, TA],
    steps: [`modprobe ${TA}`, 'modprobe klpsf_ex', `rmmod ${TA}`, `modprobe ${TA}`, disable('klpsf_ex'), 'rmmod klpsf_ex'],
    reaction: "livepatch: 'klpsf_ex': patching complete",
  },
  {
    id: 'target-export-target-first',
    what: "a per-object module using its target's own export (no livepatch relocation), the target loaded first: it pins the target",
    splits: ['klpsf_a'],
    modules: ['klpsf_dl', 'klpsf_dl__klpsf_tx', 'klpsf_tx'],
    steps: ['modprobe klpsf_tx', 'modprobe klpsf_dl', 'rmmod klpsf_tx', disable('klpsf_dl'), 'rmmod klpsf_tx', 'rmmod klpsf_dl'],
    reaction: 'rmmod: ERROR: Module klpsf_tx is in use by: klpsf_dl__klpsf_tx',
  },
  {
    id: 'target-export-target-later',
    what: 'the same with the target loaded after the patch: modprobe of the per-object module loads the COMING target again and waits for it, which waits for modprobe (the deadlock); the timeout kills it',
    splits: ['klpsf_a'],
    modules: ['klpsf_dl', 'klpsf_dl__klpsf_tx', 'klpsf_tx'],
    steps: ['modprobe klpsf_dl', 'modprobe klpsf_tx', disable('klpsf_dl'), 'rmmod klpsf_dl'],
    reaction: 'killed: the command did not end',
  },
  {
    id: 'target-export-through-klp-relocations',
    what: "the same reference written by klp-split build as a livepatch relocation: no dependency, the target loads after the patch",
    splits: ['klpsf_a'],
    modules: ['klpsf_rl', 'klpsf_rl__klpsf_tx', 'klpsf_tx'],
    steps: ['modprobe klpsf_rl', 'modprobe klpsf_tx', 'rmmod klpsf_tx', disable('klpsf_rl'), 'rmmod klpsf_rl'],
    reaction: "livepatch: applying patch 'klpsf_rl' to loading module 'klpsf_tx'",
  },
  {
    id: 'target-static-key',
    what: "a per-object module testing a static key of its target: loaded with the target there, then with the target coming",
    splits: ['klpsf_a'],
    modules: ['klpsf_sk', 'klpsf_sk__klpsf_tk', 'klpsf_tk'],
    steps: ['modprobe klpsf_tk', 'modprobe klpsf_sk', disable('klpsf_sk'), 'rmmod klpsf_sk', 'modprobe klpsf_sk', 'rmmod klpsf_tk', 'modprobe klpsf_tk', disable('klpsf_sk'), 'rmmod klpsf_sk'],
    reaction: "livepatch: 'klpsf_sk': patching complete",
  },
  {
    id: 'patch-reloaded-while-target-coming',
    what: "the patch is disabled, removed and loaded again while its per-object module for a coming target is still in its init: the new patch gets the object, the target loads",
    splits: ['klpsf_a'],
    modules: ['klpsf_rl2', 'klpsf_rl2__klpsf_ts', 'klpsf_ts'],
    steps: [
      'modprobe klpsf_rl2',
      '@interleave',
      '@start modprobe klpsf_ts',
      '@step klpsf_rl2__klpsf_ts',
      disable('klpsf_rl2'),
      'rmmod klpsf_rl2',
      'modprobe klpsf_rl2',
      '@step klpsf_rl2__klpsf_ts',
      '@step klpsf_ts',
      '@step klpsf_ts',
    ],
    guestSteps: [
      'modprobe klpsf_rl2',
      '@bg modprobe klpsf_ts',
      '@until /sys/module/klpsf_rl2__klpsf_ts/parameters/go',
      disable('klpsf_rl2'),
      'rmmod klpsf_rl2',
      'modprobe klpsf_rl2',
      '@write 1 /sys/module/klpsf_rl2__klpsf_ts/parameters/go',
      '@wait',
    ],
    reaction: "livepatch: applying patch 'klpsf_rl2' to loading module 'klpsf_ts'",
  },
  {
    id: 'replace-with-parts',
    what: 'an atomic replace whose patch has per-object modules replaces one that has them too',
    splits: ['klpsf_r2', 'klpsf_r1'],
    modules: [TA],
    steps: [`modprobe ${TA}`, 'modprobe klpsf_r1', 'modprobe klpsf_r2', 'rmmod klpsf_r1', disable('klpsf_r2'), 'rmmod klpsf_r2'],
    reaction: "livepatch: 'klpsf_r2': patching complete",
  },
  {
    id: 'replace-without-parts',
    what: "an atomic replace patching vmlinux only replaces a patch with a per-object module: the module goes",
    splits: ['klpsf_r3', 'klpsf_r1'],
    modules: [TA],
    steps: [`modprobe ${TA}`, 'modprobe klpsf_r1', 'modprobe klpsf_r3', 'rmmod klpsf_r1', `rmmod ${TA}`, disable('klpsf_r3'), 'rmmod klpsf_r3'],
    reaction: "livepatch: 'klpsf_r3': patching complete",
  },
  {
    id: 'klp-rela-for-another-object',
    what: "a per-object module whose livepatch relocations are for another object (kernel/patches/0005, klp_module_carries())",
    splits: ['klpsf_a'],
    modules: ['klpsf_cr', 'klpsf_cr__klpsf_tx', 'klpsf_tx'],
    steps: ['modprobe klpsf_tx', 'modprobe klpsf_cr', 'rmmod klpsf_tx'],
    reaction: "livepatch: section .klp.rela.klpsf_ta.text of module 'klpsf_cr__klpsf_tx': only the per-object module '<patch>__klpsf_ta' may relocate against 'klpsf_ta'",
  },
  {
    id: 'main-not-marked-livepatch',
    what: 'a main module without MODULE_INFO(livepatch, "Y") (klp_enable_patch())',
    splits: ['klpsf_a'],
    modules: ['klpsf_mn'],
    steps: ['modprobe klpsf_mn'],
    reaction: 'livepatch: module klpsf_mn is not marked as a livepatch module',
  },
  {
    id: 'vmlinux-object-named',
    what: "a main module whose vmlinux object has a name: klp_enable_patch() refuses it without a word",
    splits: ['klpsf_a'],
    modules: ['klpsf_vn'],
    steps: ['modprobe klpsf_vn'],
    reaction: "modprobe: ERROR: could not insert 'klpsf_vn': Invalid argument",
  },
  {
    id: 'symbol-reserved-section-index',
    what: 'a symbol whose st_shndx is a reserved index the module loader does not take (simplify_symbols())',
    splits: ['klpsf_a'],
    modules: ['klpsf_ei'],
    steps: ['modprobe klpsf_ei'],
    reaction: "modprobe: ERROR: could not insert 'klpsf_ei': Exec format error",
  },
  {
    id: 'symbol-common',
    what: 'a common symbol (modules are built with -fno-common; simplify_symbols())',
    splits: ['klpsf_a'],
    modules: ['klpsf_ec'],
    steps: ['modprobe klpsf_ec'],
    reaction: 'klpsf_ec: please compile with -fno-common',
  },
  {
    id: 'relocation-type-unknown',
    what: "a relocation type x86-64's module loader does not know (__apply_relocate_add())",
    splits: ['klpsf_a'],
    modules: ['klpsf_eu'],
    steps: ['modprobe klpsf_eu'],
    reaction: 'module: klpsf_eu: Unknown rela relocation: 12',
  },
  {
    id: 'relocation-target-nonzero',
    what: 'a relocation whose field is not 0 before it is written (__apply_relocate_add())',
    splits: ['klpsf_a'],
    modules: ['klpsf_ez'],
    steps: ['modprobe klpsf_ez'],
    reaction: "modprobe: ERROR: could not insert 'klpsf_ez': Exec format error",
  },
  {
    id: 'forced-patching-transition',
    what: 'a transition stalled by a task sleeping in a patched function of a target is forced; the patch still goes cleanly',
    splits: ['klpsf_f'],
    modules: ['klpsf_tbusy'],
    steps: ['modprobe klpsf_tbusy', '@sleeping klpsf_tbusy klpsf_tbusy_work', 'modprobe klpsf_f', 'echo 1 > /sys/kernel/livepatch/klpsf_f/force', disable('klpsf_f'), 'rmmod klpsf_f', 'rmmod klpsf_tbusy'],
    reaction: 'livepatch: forcing remaining tasks to the patched state',
  },
  {
    id: 'forced-replace-pins-replaced',
    what: 'a forced atomic replace: the replaced patch and its per-object module stay pinned for good',
    splits: ['klpsf_f2', 'klpsf_r1'],
    modules: [TA, 'klpsf_tbusy'],
    steps: [`modprobe ${TA}`, 'modprobe klpsf_tbusy', 'modprobe klpsf_r1', '@sleeping klpsf_tbusy klpsf_tbusy_work', 'modprobe klpsf_f2', 'echo 1 > /sys/kernel/livepatch/klpsf_f2/force', 'rmmod klpsf_r1', disable('klpsf_f2'), 'rmmod klpsf_f2'],
    reaction: 'rmmod: ERROR: Module klpsf_r1 is in use',
    leavesPinned: ['klpsf_r1', `klpsf_r1__${TA}`],
  },
];
