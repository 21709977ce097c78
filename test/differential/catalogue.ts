import type { FuncSpec, LivepatchSpec, ModuleSpec, TargetSpec } from './module-source.js';

/**
 * The differential fault cases: each builds a few modules with one fault the
 * livepatch core or the module loader reacts to, and runs commands in the
 * scenario language (`klp-split simulate`) that the real kernel runs too.
 */
export interface FaultCase {
  id: string;
  what: string;
  modules: ModuleSpec[];
  steps: string[];
  /** A line the real kernel's transcript must contain: the fault is really reacted to. */
  reaction: string;
}

/** Facts of the real kernel the catalogue needs, read from its kallsyms dump and Module.symvers. */
export interface KernelFacts {
  /** A vmlinux symbol name kallsyms lists exactly twice. */
  duplicate: string;
  /** A symbol exported by a module (never loaded in these tests), without a namespace. */
  moduleExport: string;
}

const CMDLINE: FuncSpec = { oldName: 'cmdline_proc_show' };
const lp = (name: string, objects: LivepatchSpec['objects'], extra: Partial<LivepatchSpec> = {}): LivepatchSpec => ({ kind: 'livepatch', name, objects, ...extra });
const vmlinux = (...funcs: FuncSpec[]): LivepatchSpec['objects'][number] => ({ name: null, funcs });
const target = (name: string): TargetSpec => ({ kind: 'target', name, functions: [`${name}_work`] });
const work = (module: string, extra: Partial<FuncSpec> = {}): FuncSpec => ({ oldName: `${module}_work`, ...extra });
const disable = (patch: string): string => `echo 0 > /sys/kernel/livepatch/${patch}/enabled`;

export function faultCatalogue(k: KernelFacts): FaultCase[] {
  return [
    {
      id: 'old-name-missing-vmlinux',
      what: 'an old name vmlinux does not have',
      modules: [lp('klpf_nosym', [vmlinux({ oldName: 'klpf_no_such_function' })])],
      steps: ['modprobe klpf_nosym'],
      reaction: "livepatch: symbol 'klpf_no_such_function' not found in symbol table",
    },
    {
      id: 'old-name-ambiguous-vmlinux',
      what: 'a name kallsyms lists twice, without old_sympos',
      modules: [lp('klpf_ambig', [vmlinux({ oldName: k.duplicate })])],
      steps: ['modprobe klpf_ambig'],
      // 6.1 prints vmlinux's NULL name here.
      reaction: `livepatch: unresolvable ambiguity for symbol '${k.duplicate}' in object '(null)'`,
    },
    {
      id: 'sympos-out-of-range-vmlinux',
      what: 'old_sympos 3 for a name kallsyms lists twice',
      modules: [lp('klpf_sympos3', [vmlinux({ oldName: k.duplicate, sympos: 3 })])],
      steps: ['modprobe klpf_sympos3'],
      reaction: `livepatch: symbol position 3 for symbol '${k.duplicate}' in object 'vmlinux' not found`,
    },
    {
      id: 'sympos-2-of-unique-vmlinux',
      what: 'old_sympos 2 for a name kallsyms lists once',
      modules: [lp('klpf_sympos2', [vmlinux({ ...CMDLINE, sympos: 2 })])],
      steps: ['modprobe klpf_sympos2'],
      reaction: "livepatch: symbol position 2 for symbol 'cmdline_proc_show' in object 'vmlinux' not found",
    },
    {
      id: 'sympos-1-of-unique-vmlinux',
      what: 'old_sympos 1 for a unique name is accepted',
      modules: [lp('klpf_sympos1', [vmlinux({ ...CMDLINE, sympos: 1 })])],
      steps: ['modprobe klpf_sympos1', disable('klpf_sympos1'), 'rmmod klpf_sympos1'],
      reaction: "livepatch: 'klpf_sympos1': patching complete",
    },
    {
      id: 'target-loaded-after-patch',
      what: 'the target module is loaded after the patch',
      modules: [lp('klpf_late', [vmlinux(CMDLINE), { name: 'klpf_tgt_late', funcs: [work('klpf_tgt_late')], callbacks: true }]), target('klpf_tgt_late')],
      steps: ['modprobe klpf_late', 'modprobe klpf_tgt_late', 'rmmod klpf_tgt_late', disable('klpf_late'), 'rmmod klpf_late'],
      reaction: "livepatch: applying patch 'klpf_late' to loading module 'klpf_tgt_late'",
    },
    {
      id: 'old-name-missing-in-later-module',
      what: 'a module loaded after the patch lacks the old name',
      modules: [lp('klpf_latemiss', [vmlinux(CMDLINE), { name: 'klpf_tgt_latemiss', funcs: [{ oldName: 'klpf_tgt_latemiss_gone' }] }]), target('klpf_tgt_latemiss')],
      steps: ['modprobe klpf_latemiss', 'modprobe klpf_tgt_latemiss', disable('klpf_latemiss'), 'rmmod klpf_latemiss'],
      reaction: "livepatch: patch 'klpf_latemiss' failed for module 'klpf_tgt_latemiss', refusing to load module 'klpf_tgt_latemiss'",
    },
    {
      id: 'old-name-missing-in-loaded-module',
      what: 'a loaded module lacks the old name',
      modules: [lp('klpf_earlymiss', [{ name: 'klpf_tgt_early', funcs: [{ oldName: 'klpf_tgt_early_gone' }] }]), target('klpf_tgt_early')],
      steps: ['modprobe klpf_tgt_early', 'modprobe klpf_earlymiss', 'rmmod klpf_tgt_early'],
      reaction: "livepatch: symbol 'klpf_tgt_early_gone' not found in symbol table",
    },
    {
      id: 'sympos-out-of-range-module',
      what: 'old_sympos 2 for a name the module has once',
      modules: [lp('klpf_mpos', [{ name: 'klpf_tgt_mpos', funcs: [work('klpf_tgt_mpos', { sympos: 2 })] }]), target('klpf_tgt_mpos')],
      steps: ['modprobe klpf_tgt_mpos', 'modprobe klpf_mpos', 'rmmod klpf_tgt_mpos'],
      reaction: "livepatch: symbol position 2 for symbol 'klpf_tgt_mpos_work' in object 'klpf_tgt_mpos' not found",
    },
    {
      id: 'pre-patch-callback-fails-on-enable',
      what: 'a pre-patch callback returns -ENODEV when the patch is enabled',
      modules: [lp('klpf_cbfail', [{ ...vmlinux(CMDLINE), callbacks: true }])],
      steps: ['modprobe klpf_cbfail pre_patch_ret=-19'],
      reaction: "livepatch: pre-patch callback failed for object 'vmlinux'",
    },
    {
      id: 'pre-patch-callback-fails-for-coming-module',
      what: "a pre-patch callback returns -ENODEV for a module loaded later",
      modules: [lp('klpf_cbmod', [{ ...vmlinux(CMDLINE), callbacks: true }, { name: 'klpf_tgt_cb', funcs: [work('klpf_tgt_cb')], callbacks: true }]), target('klpf_tgt_cb')],
      steps: ['modprobe klpf_cbmod', '@callback klpf_cbmod pre_patch=-19', 'modprobe klpf_tgt_cb', disable('klpf_cbmod'), 'rmmod klpf_cbmod'],
      reaction: "livepatch: pre-patch callback failed for object 'klpf_tgt_cb'",
    },
    {
      id: 'same-patch-inserted-twice',
      what: 'insmod of a patch module that is already loaded',
      modules: [lp('klpf_twice', [vmlinux(CMDLINE)])],
      steps: ['insmod klpf_twice', 'insmod klpf_twice', disable('klpf_twice'), 'rmmod klpf_twice'],
      reaction: 'insmod: ERROR: could not insert module klpf_twice: File exists',
    },
    {
      id: 'replace-over-non-replace',
      what: 'an atomic-replace patch over a non-replace one',
      modules: [lp('klpf_base', [vmlinux(CMDLINE)]), lp('klpf_repl', [vmlinux(CMDLINE)], { replace: true })],
      steps: ['modprobe klpf_base', 'modprobe klpf_repl', 'rmmod klpf_base', disable('klpf_repl'), 'rmmod klpf_repl'],
      reaction: "livepatch: 'klpf_repl': patching complete",
    },
    {
      id: 'disable-replaced-patch',
      what: 'disabling a patch an atomic replace already took over',
      modules: [lp('klpf_old', [vmlinux(CMDLINE)]), lp('klpf_new', [vmlinux(CMDLINE)], { replace: true })],
      steps: ['modprobe klpf_old', 'modprobe klpf_new', disable('klpf_old'), 'rmmod klpf_old', disable('klpf_new'), 'rmmod klpf_new'],
      reaction: "livepatch: 'klpf_new': patching complete",
    },
    {
      id: 'incompatible-state-dropped',
      what: 'a replace patch without the klp_state the installed patch has',
      modules: [lp('klpf_st1', [vmlinux(CMDLINE)], { replace: true, states: [{ id: 1, version: 1 }] }), lp('klpf_stnone', [vmlinux(CMDLINE)], { replace: true })],
      steps: ['modprobe klpf_st1', 'modprobe klpf_stnone', disable('klpf_st1'), 'rmmod klpf_st1'],
      reaction: 'livepatch: Livepatch patch (klpf_stnone) is not compatible with the already installed livepatches.',
    },
    {
      id: 'incompatible-state-downgrade',
      what: 'a replace patch with an older version of an installed klp_state',
      modules: [lp('klpf_stv2', [vmlinux(CMDLINE)], { replace: true, states: [{ id: 7, version: 2 }] }), lp('klpf_stv1', [vmlinux(CMDLINE)], { replace: true, states: [{ id: 7, version: 1 }] })],
      steps: ['modprobe klpf_stv2', 'modprobe klpf_stv1', disable('klpf_stv2'), 'rmmod klpf_stv2'],
      reaction: 'livepatch: Livepatch patch (klpf_stv1) is not compatible with the already installed livepatches.',
    },
    {
      id: 'state-upgrade',
      what: 'a replace patch with a newer version of an installed klp_state is accepted',
      modules: [lp('klpf_sta', [vmlinux(CMDLINE)], { replace: true, states: [{ id: 3, version: 1 }] }), lp('klpf_stb', [vmlinux(CMDLINE)], { replace: true, states: [{ id: 3, version: 2 }] })],
      steps: ['modprobe klpf_sta', 'modprobe klpf_stb', 'rmmod klpf_sta', disable('klpf_stb'), 'rmmod klpf_stb'],
      reaction: "livepatch: 'klpf_stb': patching complete",
    },
    {
      id: 'not-marked-livepatch',
      what: 'a module without MODULE_INFO(livepatch, "Y") calls klp_enable_patch',
      modules: [lp('klpf_nolp', [vmlinux(CMDLINE)], { notMarked: true })],
      steps: ['modprobe klpf_nolp'],
      reaction: 'livepatch: module klpf_nolp is not marked as a livepatch module',
    },
    {
      id: 'rmmod-enabled-patch',
      what: 'removing a patch module while its patch is enabled',
      modules: [lp('klpf_busy', [vmlinux(CMDLINE)])],
      steps: ['modprobe klpf_busy', 'rmmod klpf_busy', disable('klpf_busy'), 'rmmod klpf_busy'],
      reaction: 'rmmod: ERROR: Module klpf_busy is in use',
    },
    {
      id: 'enable-enabled-patch',
      what: 'writing 1 to an enabled patch',
      modules: [lp('klpf_en', [vmlinux(CMDLINE)])],
      steps: ['modprobe klpf_en', 'echo 1 > /sys/kernel/livepatch/klpf_en/enabled', disable('klpf_en'), 'rmmod klpf_en'],
      reaction: 'echo: write error: Invalid argument',
    },
    {
      id: 'disable-twice',
      what: 'writing 0 to a patch that was disabled already',
      modules: [lp('klpf_dis', [vmlinux(CMDLINE)])],
      steps: ['modprobe klpf_dis', disable('klpf_dis'), disable('klpf_dis'), 'rmmod klpf_dis'],
      reaction: '/sys/kernel/livepatch/klpf_dis/enabled: No such file or directory',
    },
    {
      id: 'unknown-symbol',
      what: 'a patch module using an export of a module that is not loaded',
      modules: [lp('klpf_unk', [vmlinux(CMDLINE)], { needs: k.moduleExport })],
      steps: ['modprobe klpf_unk'],
      reaction: `klpf_unk: Unknown symbol ${k.moduleExport} (err -2)`,
    },
    {
      id: 'unknown-symbol-insmod',
      what: 'the same, with insmod',
      modules: [lp('klpf_unk_insmod', [vmlinux(CMDLINE)], { needs: k.moduleExport })],
      steps: ['insmod klpf_unk_insmod'],
      reaction: `klpf_unk_insmod: Unknown symbol ${k.moduleExport} (err -2)`,
    },
    {
      id: 'old-name-missing-insmod',
      what: 'an old name vmlinux does not have, with insmod',
      modules: [lp('klpf_nosym_insmod', [vmlinux({ oldName: 'klpf_no_such_function' })])],
      steps: ['insmod klpf_nosym_insmod'],
      reaction: "livepatch: symbol 'klpf_no_such_function' not found in symbol table",
    },
    {
      id: 'object-never-loaded',
      what: 'an object for a module that never loads',
      modules: [lp('klpf_absent', [vmlinux(CMDLINE), { name: 'klpf_never_loaded', funcs: [{ oldName: 'klpf_never_loaded_work' }], callbacks: true }])],
      steps: ['modprobe klpf_absent', disable('klpf_absent'), 'rmmod klpf_absent'],
      reaction: "livepatch: 'klpf_absent': patching complete",
    },
    {
      id: 'target-removed-while-patched',
      what: 'the target module goes away while patched',
      modules: [lp('klpf_rm', [{ name: 'klpf_tgt_rm', funcs: [work('klpf_tgt_rm')], callbacks: true }]), target('klpf_tgt_rm')],
      steps: ['modprobe klpf_tgt_rm', 'modprobe klpf_rm', 'rmmod klpf_tgt_rm', disable('klpf_rm'), 'rmmod klpf_rm'],
      reaction: "livepatch: reverting patch 'klpf_rm' on unloading module 'klpf_tgt_rm'",
    },
    {
      id: 'func-without-old-name',
      what: 'a klp_func with new_func but no old_name',
      modules: [lp('klpf_noname', [vmlinux(CMDLINE, { oldName: null })])],
      steps: ['modprobe klpf_noname'],
      reaction: "modprobe: ERROR: could not insert 'klpf_noname': Invalid argument",
    },
    {
      id: 'func-without-new-func',
      what: 'a klp_func with an old_name but no new_func',
      modules: [lp('klpf_nonew', [vmlinux({ ...CMDLINE, newFunc: false })])],
      steps: ['modprobe klpf_nonew'],
      reaction: "modprobe: ERROR: could not insert 'klpf_nonew': Invalid argument",
    },
    {
      id: 'object-without-funcs',
      what: 'a module object without a funcs array',
      modules: [lp('klpf_nofuncs', [vmlinux(CMDLINE), { name: 'klpf_tgt_nofuncs', funcs: null }])],
      steps: ['modprobe klpf_nofuncs'],
      reaction: "modprobe: ERROR: could not insert 'klpf_nofuncs': Invalid argument",
    },
    {
      id: 'object-name-too-long',
      what: 'an object name of MODULE_NAME_LEN characters',
      modules: [lp('klpf_longobj', [vmlinux(CMDLINE), { name: `klpf_${'x'.repeat(51)}`, funcs: [{ oldName: 'klpf_long_work' }] }])],
      steps: ['modprobe klpf_longobj'],
      reaction: "modprobe: ERROR: could not insert 'klpf_longobj': Invalid argument",
    },
    {
      id: 'stacked-patches-disable-bottom-first',
      what: 'disabling the older of two stacked patches of one function first',
      modules: [lp('klpf_lower', [vmlinux(CMDLINE)]), lp('klpf_upper', [vmlinux(CMDLINE)])],
      steps: ['modprobe klpf_lower', 'modprobe klpf_upper', disable('klpf_lower'), 'rmmod klpf_lower', disable('klpf_upper'), 'rmmod klpf_upper'],
      reaction: "livepatch: 'klpf_upper': patching complete",
    },
    {
      id: 'module-named-vmlinux',
      what: 'a module named vmlinux, which the livepatch core refuses to load',
      modules: [target('vmlinux')],
      steps: ['modprobe vmlinux'],
      reaction: 'livepatch: vmlinux.ko: invalid module name',
    },
  ];
}
