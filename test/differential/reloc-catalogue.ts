import type { TargetSpec } from './module-source.js';
import type { RelocKernelFacts } from './reloc-kernel-facts.js';
import type { RelocEdit } from './reloc-edit.js';
import type { RelocLivepatchSpec, RelocRef } from './reloc-module-source.js';
import { elfConstants as C } from '@klp-split/kernel-facts';

/**
 * The differential fault cases on livepatch relocations: classic livepatches
 * built by `klp-split build` (its relocation writer), some then edited the
 * way a broken tool would have written them (reloc-edit.ts), loaded on the
 * real kernel and in the simulator's upstream mode.
 *
 * Debian's 6.1 writes `.klp.rela.vmlinux.*` while the livepatch module itself
 * loads (apply_relocations() -> klp_apply_section_relocs()), so a fault there
 * fails the load with that function's errno (-EINVAL); a module's
 * `.klp.rela.<obj>.*` is written when the object is initialised
 * (klp_init_object_loaded()), at klp_enable_patch() or when the target comes.
 */
export interface RelocFaultCase {
  id: string;
  what: string;
  modules: (RelocLivepatchSpec | TargetSpec)[];
  /** Edits of the built modules, in order. */
  edits?: { module: string; edit: RelocEdit }[];
  steps: string[];
  /** A line the real kernel's transcript must contain: the fault is really reacted to. */
  reaction: string;
  /** The simulator's violation for a fault the kernel lets pass silently. */
  violation?: string;
}

const disable = (patch: string): string => `echo 0 > /sys/kernel/livepatch/${patch}/enabled`;
const target = (name: string): TargetSpec => ({ kind: 'target', name, functions: [`${name}_work`] });
/** A static vmlinux variable and function, plain externs: the build finds them in the kallsyms dump. */
const STATIC_VMLINUX: RelocRef[] = [
  { cName: 'max_threads', from: 'vmlinux' },
  { cName: 'version_proc_show', from: 'vmlinux' },
];
const vmlinuxPatch = (name: string, refs: RelocRef[], extra: Partial<RelocLivepatchSpec> = {}): RelocLivepatchSpec => ({ kind: 'reloc-livepatch', name, refs, ...extra });
const annotated = (cName: string, lpObj: string, symObj: string, symbol: string, pos?: number, from: RelocRef['from'] = 'vmlinux'): RelocRef => ({
  cName,
  annotation: { lpObj, symObj, symbol, pos },
  from,
});
/** A patch of vmlinux and of `tgt`, reaching `symbol` of `tgt` (annotated; no --target, so the position is written unchecked). */
const modulePatch = (name: string, tgt: string, symbol: string, pos?: number): RelocLivepatchSpec => ({
  kind: 'reloc-livepatch',
  name,
  target: tgt,
  refs: [annotated('klprf_target_sym', tgt, tgt, symbol, pos, 'module')],
});
const refused = (name: string): string => `modprobe: ERROR: could not insert '${name}': Invalid argument`;
const maxThreads = (pos: number): string => `.klp.sym.vmlinux.max_threads,${pos}`;
/** The object-name field of this section's `.klp.rela` name grows past the kernel's 55 characters once its dots go. */
const LONG_SECTION = `.text.klprf_${'x'.repeat(40)}`;

export function relocFaultCatalogue(k: RelocKernelFacts): RelocFaultCase[] {
  const dup = (pos: number): string => `.klp.sym.vmlinux.${k.duplicate},${pos}`;
  const dupPatch = (name: string): RelocLivepatchSpec => vmlinuxPatch(name, [annotated('klprf_dup', 'vmlinux', 'vmlinux', k.duplicate, 2)]);
  const pos1Patch = (name: string): RelocLivepatchSpec => vmlinuxPatch(name, [annotated('klprf_threads', 'vmlinux', 'vmlinux', 'max_threads', 1)]);
  return [
    {
      id: 'reloc-static-vmlinux',
      what: 'a static vmlinux variable and function through livepatch relocations',
      modules: [vmlinuxPatch('klprf_static', STATIC_VMLINUX)],
      steps: ['modprobe klprf_static', disable('klprf_static'), 'rmmod klprf_static'],
      reaction: "livepatch: 'klprf_static': patching complete",
    },
    {
      id: 'reloc-vmlinux-position-annotated',
      what: 'a name kallsyms lists twice, position 2 annotated',
      modules: [dupPatch('klprf_dup2')],
      steps: ['modprobe klprf_dup2', disable('klprf_dup2'), 'rmmod klprf_dup2'],
      reaction: "livepatch: 'klprf_dup2': patching complete",
    },
    {
      id: 'reloc-vmlinux-position-1-of-unique',
      what: 'position 1 of a name kallsyms lists once is accepted',
      modules: [pos1Patch('klprf_pos1')],
      steps: ['modprobe klprf_pos1', disable('klprf_pos1'), 'rmmod klprf_pos1'],
      reaction: "livepatch: 'klprf_pos1': patching complete",
    },
    {
      id: 'reloc-vmlinux-position-2-of-unique',
      what: 'position 2 of a name kallsyms lists once (edited from 1)',
      modules: [pos1Patch('klprf_pos2u')],
      edits: [{ module: 'klprf_pos2u', edit: { kind: 'symbol-name', from: maxThreads(1), to: maxThreads(2) } }],
      steps: ['modprobe klprf_pos2u'],
      reaction: "livepatch: symbol position 2 for symbol 'max_threads' in object 'vmlinux' not found",
    },
    {
      id: 'reloc-vmlinux-position-out-of-range',
      what: 'position 3 of a name kallsyms lists twice (edited from 2)',
      modules: [dupPatch('klprf_pos3')],
      edits: [{ module: 'klprf_pos3', edit: { kind: 'symbol-name', from: dup(2), to: dup(3) } }],
      steps: ['modprobe klprf_pos3'],
      reaction: `livepatch: symbol position 3 for symbol '${k.duplicate}' in object 'vmlinux' not found`,
    },
    {
      id: 'reloc-vmlinux-ambiguous',
      what: 'position 0 of a name kallsyms lists twice (edited from 2)',
      modules: [dupPatch('klprf_pos0')],
      edits: [{ module: 'klprf_pos0', edit: { kind: 'symbol-name', from: dup(2), to: dup(0) } }],
      steps: ['modprobe klprf_pos0'],
      // klp_find_object_symbol() gets a NULL object name for vmlinux.
      reaction: `livepatch: unresolvable ambiguity for symbol '${k.duplicate}' in object '(null)'`,
    },
    {
      id: 'reloc-vmlinux-symbol-missing',
      what: 'a livepatch symbol vmlinux does not have (edited name)',
      modules: [vmlinuxPatch('klprf_missing', STATIC_VMLINUX)],
      edits: [{ module: 'klprf_missing', edit: { kind: 'symbol-name', from: maxThreads(0), to: '.klp.sym.vmlinux.max_threadz,0' } }],
      steps: ['modprobe klprf_missing'],
      reaction: "livepatch: symbol 'max_threadz' not found in symbol table",
    },
    {
      id: 'reloc-symbol-not-livepatch',
      what: 'a .klp.rela relocation whose symbol is SHN_ABS, not SHN_LIVEPATCH',
      modules: [vmlinuxPatch('klprf_abs', STATIC_VMLINUX)],
      edits: [{ module: 'klprf_abs', edit: { kind: 'symbol-shndx', symbol: maxThreads(0), shndx: C.SHN_ABS } }],
      steps: ['modprobe klprf_abs'],
      reaction: `livepatch: symbol ${maxThreads(0)} is not marked as a livepatch symbol`,
    },
    {
      id: 'reloc-symbol-name-malformed',
      what: "a .klp.sym name without its ',<pos>'",
      modules: [vmlinuxPatch('klprf_badsym', STATIC_VMLINUX)],
      edits: [{ module: 'klprf_badsym', edit: { kind: 'symbol-name', from: maxThreads(0), to: '.klp.sym.vmlinux.max_threads.0' } }],
      steps: ['modprobe klprf_badsym'],
      reaction: 'livepatch: symbol .klp.sym.vmlinux.max_threads.0 has an incorrectly formatted name',
    },
    {
      id: 'reloc-symbol-object-too-long',
      what: 'a .klp.sym name whose object field runs past 55 characters',
      modules: [vmlinuxPatch('klprf_longsym', [annotated('klprf_long', 'vmlinux', 'vmlinux', k.longName)])],
      edits: [{ module: 'klprf_longsym', edit: { kind: 'symbol-name', from: `.klp.sym.vmlinux.${k.longName},0`, to: `.klp.sym.vmlinux_${k.longName},0` } }],
      steps: ['modprobe klprf_longsym'],
      reaction: `livepatch: symbol .klp.sym.vmlinux_${k.longName},0 has an incorrectly formatted name`,
    },
    {
      id: 'reloc-section-name-malformed',
      what: 'a .klp.rela section name with an empty object name',
      modules: [vmlinuxPatch('klprf_badsec', STATIC_VMLINUX)],
      edits: [{ module: 'klprf_badsec', edit: { kind: 'section-name', from: '.klp.rela.vmlinux.text', to: '.klp.rela..mlinux.text' } }],
      steps: ['modprobe klprf_badsec'],
      reaction: 'livepatch: section .klp.rela..mlinux.text has an incorrectly formatted name',
    },
    {
      id: 'reloc-section-object-too-long',
      what: "a .klp.rela section whose object name is longer than 55 characters: the kernel reads 55 of them, matches no object, and never writes its relocations",
      modules: [vmlinuxPatch('klprf_longobj', STATIC_VMLINUX, { vmlinuxSection: LONG_SECTION })],
      edits: [
        {
          module: 'klprf_longobj',
          edit: { kind: 'section-name', from: `.klp.rela.vmlinux${LONG_SECTION}`, to: `.klp.rela.vmlinux${LONG_SECTION.replace(/\./g, '_')}` },
        },
      ],
      steps: ['modprobe klprf_longobj', disable('klprf_longobj'), 'rmmod klprf_longobj'],
      reaction: "livepatch: 'klprf_longobj': patching complete",
      // The kernel says nothing; the simulator reports the patched code's unwritten references.
      violation: 'klp-rela-object-unknown',
    },
    {
      id: 'reloc-vmlinux-symbol-in-module-section',
      what: "a vmlinux symbol in a module's .klp.rela section (section renamed), the module loaded",
      modules: [vmlinuxPatch('klprf_vmsec', STATIC_VMLINUX, { target: 'klprf_j' }), target('klprf_j')],
      // The object name keeps vmlinux's 7 characters.
      edits: [{ module: 'klprf_vmsec', edit: { kind: 'section-name', from: '.klp.rela.vmlinux.text', to: '.klp.rela.klprf_j.text' } }],
      steps: ['modprobe klprf_j', 'modprobe klprf_vmsec', 'rmmod klprf_j'],
      reaction: "livepatch: invalid access to vmlinux symbol 'version_proc_show' from module-specific livepatch relocation section",
    },
    {
      id: 'reloc-module-object-deferred',
      what: "a module's static function reached before the module loads: written when it comes",
      modules: [modulePatch('klprf_def', 'klprf_tgt_def', 'klprf_tgt_def_work'), target('klprf_tgt_def')],
      steps: ['modprobe klprf_def', 'modprobe klprf_tgt_def', 'rmmod klprf_tgt_def', disable('klprf_def'), 'rmmod klprf_def'],
      reaction: "livepatch: applying patch 'klprf_def' to loading module 'klprf_tgt_def'",
    },
    {
      id: 'reloc-module-object-loaded-first',
      what: "a module's static function reached with the module loaded first",
      modules: [modulePatch('klprf_early', 'klprf_tgt_early', 'klprf_tgt_early_work'), target('klprf_tgt_early')],
      steps: ['modprobe klprf_tgt_early', 'modprobe klprf_early', disable('klprf_early'), 'rmmod klprf_early', 'rmmod klprf_tgt_early'],
      reaction: "livepatch: 'klprf_early': patching complete",
    },
    {
      id: 'reloc-module-symbol-missing-target-later',
      what: 'a module symbol the target lacks, the target loaded after the patch',
      modules: [modulePatch('klprf_mlate', 'klprf_tgt_ml', 'klprf_tgt_ml_gone'), target('klprf_tgt_ml')],
      steps: ['modprobe klprf_mlate', 'modprobe klprf_tgt_ml', disable('klprf_mlate'), 'rmmod klprf_mlate'],
      reaction: "livepatch: patch 'klprf_mlate' failed for module 'klprf_tgt_ml', refusing to load module 'klprf_tgt_ml'",
    },
    {
      id: 'reloc-module-symbol-missing-target-first',
      what: 'a module symbol the target lacks, the target loaded before the patch',
      modules: [modulePatch('klprf_mearly', 'klprf_tgt_me', 'klprf_tgt_me_gone'), target('klprf_tgt_me')],
      steps: ['modprobe klprf_tgt_me', 'modprobe klprf_mearly', 'rmmod klprf_tgt_me'],
      reaction: refused('klprf_mearly'),
    },
    {
      id: 'reloc-module-position-out-of-range',
      what: 'position 2 of a name the target has once',
      modules: [modulePatch('klprf_mpos', 'klprf_tgt_mp', 'klprf_tgt_mp_work', 2), target('klprf_tgt_mp')],
      steps: ['modprobe klprf_tgt_mp', 'modprobe klprf_mpos', 'rmmod klprf_tgt_mp'],
      reaction: "livepatch: symbol position 2 for symbol 'klprf_tgt_mp_work' in object 'klprf_tgt_mp' not found",
    },
    {
      id: 'reloc-module-target-reloaded',
      what: 'the target unloaded and loaded again while patched: 6.1 finds its relocations still written',
      modules: [modulePatch('klprf_reload', 'klprf_tgt_rl', 'klprf_tgt_rl_work'), target('klprf_tgt_rl')],
      steps: ['modprobe klprf_tgt_rl', 'modprobe klprf_reload', 'rmmod klprf_tgt_rl', 'modprobe klprf_tgt_rl', disable('klprf_reload'), 'rmmod klprf_reload'],
      reaction: "livepatch: patch 'klprf_reload' failed for module 'klprf_tgt_rl', refusing to load module 'klprf_tgt_rl'",
    },
  ];
}
