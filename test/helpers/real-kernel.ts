import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { kernelEnv } from '@klp-split/kbuild-gen';
import { ROOT } from './env.js';

/**
 * Runs scenario-language steps on the real kernel: Debian's kernel of the
 * headers' release booted under qemu by scripts/qemu-kernel.sh, with the given
 * modules installed under /lib/modules/<release>/extra and indexed by depmod.
 * One boot runs every case; between cases every patch is disabled and every
 * module removed.
 */

/** The guest's programs: the same set scripts/real-selftests.sh uses, so both share one cached initramfs. */
const GUEST_BINS = 'bash modprobe rmmod insmod lsmod modinfo depmod comm stat diff sysctl mktemp dmesg cat grep sed awk id sleep rm dirname timeout';

export interface RealCase {
  id: string;
  /** Scenario-language steps: modprobe, insmod, rmmod, echo 0|1 > .../enabled, @callback <patch> pre_patch=<n>. */
  steps: string[];
}

export interface RealCaseResult {
  /** Commands as `% ...`, tool errors and the kernel's lines about the case's modules, in kernel-log order. */
  transcript: string[];
  /** Each command's exit status. */
  status: number[];
}

export interface RealRun {
  results: Map<string, RealCaseResult>;
  /** Modules a case left loaded, or transitions that did not end: the run cannot be trusted then. */
  problems: string[];
  /** The qemu run, boot included. */
  ms: number;
}

/** A step as the guest's shell runs it, and as the transcript shows it. */
function shellCommand(step: string): { shown: string; run: string } {
  const cb = /^@callback\s+(\S+)\s+pre_patch=(-?\d+)$/.exec(step);
  if (cb) {
    const cmd = `echo ${cb[2]} > /sys/module/${cb[1]}/parameters/pre_patch_ret`;
    return { shown: cmd, run: cmd };
  }
  const insmod = /^insmod\s+(\S+)$/.exec(step);
  if (insmod) return { shown: step, run: `insmod /lib/modules/$(uname -r)/extra/${insmod[1]}.ko` };
  if (/^(modprobe|rmmod)\s|^echo\s+[01]\s*>\s*\/sys\/kernel\/livepatch\/\w+\/enabled$/.test(step)) return { shown: step, run: step };
  throw new Error(`the real-kernel runner cannot run '${step}'`);
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function guestScript(cases: RealCase[]): string {
  const lines = [
    '#!/usr/bin/bash',
    'export PATH=/usr/sbin:/usr/bin:/sbin:/bin',
    // The pr_debug transition messages, as the selftests' set_dynamic_debug() enables them.
    "printf 'file kernel/livepatch/* +p\\nfunc klp_try_switch_task -p\\n' > /sys/kernel/debug/dynamic_debug/control",
    "kmsg() { printf 'klp-faults: %s\\n' \"$*\" > /dev/kmsg; }",
    // Like the selftests' loop_until on .../transition: no command starts during a transition.
    'settle() {',
    '  local i',
    '  for ((i = 0; i < 300; i++)); do grep -qs 1 /sys/kernel/livepatch/*/transition || return 0; sleep 0.1; done',
    '  kmsg "problem: a transition did not end"',
    '}',
    'step() {',
    '  local out rc l i',
    // A disabled patch drops its module reference after its sysfs directory is gone (klp_free_patch_finish()):
    // like the selftests' unload_mod(), rmmod waits for the count to settle (a module in use keeps it).
    '  if [[ $1 == "rmmod "* ]]; then',
    '    for ((i = 0; i < 20; i++)); do [[ $(cat "/sys/module/${1#rmmod }/refcnt" 2>/dev/null) == 0 ]] && break; sleep 0.1; done',
    '  fi',
    '  kmsg "% $1"',
    '  out=$(bash -c "$2" 2>&1); rc=$?',
    '  while IFS= read -r l; do [[ -n $l ]] && kmsg "out $l"; done <<<"$out"',
    '  kmsg "rc $rc"',
    '  settle',
    '}',
    'cleanup() {',
    '  local p m i',
    '  for p in /sys/kernel/livepatch/*/enabled; do [[ -e $p && $(cat "$p") == 1 ]] && echo 0 > "$p"; done',
    '  settle',
    '  for ((i = 0; i < 50; i++)); do',
    '    for m in $(cut -d" " -f1 /proc/modules); do rmmod "$m" 2>/dev/null; done',
    '    [[ -s /proc/modules ]] || return 0',
    '    sleep 0.1',
    '  done',
    '  kmsg "problem: left loaded: $(cut -d" " -f1 /proc/modules | tr "\\n" " ")"',
    '}',
  ];
  for (const c of cases) {
    lines.push(`kmsg ${shellQuote(`case ${c.id}`)}`);
    for (const s of c.steps) {
      const { shown, run } = shellCommand(s);
      lines.push(`step ${shellQuote(shown)} ${shellQuote(run)}`);
    }
    lines.push(`kmsg ${shellQuote(`end ${c.id}`)}`, 'cleanup');
  }
  lines.push('echo "### klp-faults: done"', '');
  return lines.join('\n');
}

/** The case's lines of the kernel log: commands, tool output, the livepatch core's and x86 loader's lines, and lines about its modules (minus taint notices). */
function parseLog(dmesg: string, modules: Map<string, string[]>, release: string): RealRun['results'] {
  const results: RealRun['results'] = new Map();
  const extra = new RegExp(`/lib/modules/${release.replace(/\./g, '\\.')}/extra/(\\w+)\\.ko`, 'g');
  let current: RealCaseResult | undefined;
  let names: string[] = [];
  for (const raw of dmesg.split('\n')) {
    const line = raw.replace(/^\[[ 0-9.]*\] /, '');
    const marker = /^klp-faults: (case|end|%|out|rc) ?(.*)$/.exec(line);
    if (marker) {
      const [, kind, rest] = marker as unknown as [string, string, string];
      if (kind === 'case') {
        current = { transcript: [], status: [] };
        results.set(rest, current);
        names = modules.get(rest) ?? [];
      } else if (kind === 'end') current = undefined;
      else if (!current) continue;
      else if (kind === '%') current.transcript.push(`% ${rest}`);
      else if (kind === 'rc') current.status.push(Number(rest));
      // Tool errors without the shell's "bash: line N: " and with module paths as names.
      else current.transcript.push(rest.replace(/^bash: (line \d+: )?/, '').replace(extra, '$1'));
      continue;
    }
    if (!current || /(tainting|taints) kernel/.test(line)) continue;
    // The x86 module loader's own lines (pr_fmt "module: ") are about the case's module being loaded.
    if (line.startsWith('livepatch: ') || line.startsWith('module: x86/modules: ') || names.some((n) => line.startsWith(`${n}: `))) current.transcript.push(line);
  }
  return results;
}

/** Runs the cases in one boot; `kos` are the .ko files to install, `caseModules` the module names each case involves. */
export async function runOnRealKernel(kos: string[], cases: RealCase[], caseModules: Map<string, string[]>, workDir: string): Promise<RealRun> {
  const env = kernelEnv();
  const release = env.KLP_KERNEL_RELEASE;
  const kmoddir = [`/lib/modules/${release}`, join(env.KLP_CACHE, `qemu/linux-image-${release}/lib/modules/${release}`)].find((d) => existsSync(join(d, 'modules.builtin')));
  if (!kmoddir) throw new Error(`no modules.builtin of ${release}: run scripts/qemu-kernel.sh initramfs first`);

  const root = join(workDir, 'root');
  const extra = join(root, 'lib/modules', release, 'extra');
  mkdirSync(extra, { recursive: true });
  for (const ko of kos) copyFileSync(ko, join(extra, basename(ko)));
  for (const f of ['modules.builtin', 'modules.builtin.modinfo']) if (existsSync(join(kmoddir, f))) copyFileSync(join(kmoddir, f), join(root, 'lib/modules', release, f));
  await execa('depmod', ['-b', root, release], { env: { PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });

  const guest = join(workDir, 'guest');
  mkdirSync(guest, { recursive: true });
  writeFileSync(join(guest, 'faults.sh'), guestScript(cases));
  writeFileSync(join(guest, 'run.sh'), 'exec /usr/bin/bash /work/faults.sh\n');

  const t0 = performance.now();
  const r = await execa('bash', ['scripts/qemu-kernel.sh', 'run', guest], {
    cwd: ROOT,
    reject: false,
    timeout: 15 * 60_000,
    env: { KLP_QEMU_BINS: GUEST_BINS, KLP_QEMU_ROOTFS: root, KLP_QEMU_APPEND: 'log_buf_len=8M', KLP_QEMU_TIMEOUT: '840' },
  });
  const ms = performance.now() - t0;
  const out = String(r.stdout);
  const cut = out.indexOf('\n### klp-qemu: dmesg\n');
  if (r.exitCode !== 0 || cut < 0 || !out.includes('### klp-faults: done')) {
    throw new Error(`the real-kernel run failed (exit ${r.exitCode}):\n${out.slice(-4000)}\n${String(r.stderr).slice(-4000)}`);
  }
  const dmesg = out.slice(cut + '\n### klp-qemu: dmesg\n'.length);
  const problems = dmesg.split('\n').filter((l) => l.includes('klp-faults: problem:')).map((l) => l.replace(/^.*klp-faults: problem: /, ''));
  return { results: parseLog(dmesg, caseModules, release), problems, ms };
}
