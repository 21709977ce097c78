#!/usr/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of test/e2e/create-real.test.ts (Debian's 6.1) and
# test/e2e/create-split-real.test.ts (the split kernel), run by qemu-kernel.sh:
# /work holds klpc_<fix>.ko, the livepatches 'klp-split create' made from
# test/fixtures/create/<fix>/fix.patch and 'klp-split build' built (on the
# split kernel, the main modules of their splits); on Debian's kernel its own
# zram, zsmalloc and binfmt_misc modules are installed for modprobe. Each fix
# present is loaded, checked from user space (a /proc line, uname, a sysfs
# value), disabled and removed, and checked again. The report goes to the
# kernel log in the protocol of packages/nx/scripts/guest/steps.sh
# (klp-guest: case/end, % <command>, out <line>, rc <n>, problem: <text>).
set -u -o pipefail -o errtrace
trap 'kmsg "problem: line $LINENO: $BASH_COMMAND failed"' ERR
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
cd /work

kmsg() { printf 'klp-guest: %s\n' "$*" > /dev/kmsg; }

# case ID COMMAND...: the command alone in a case, its output and status logged.
case_of() {
  local id=$1 out rc l
  shift
  kmsg "case $id"
  kmsg "% $*"
  if out=$("$@" 2>&1); then rc=0; else rc=$?; fi
  while IFS= read -r l; do
    if [[ -n $l ]]; then kmsg "out $l"; fi
  done <<<"$out"
  kmsg "rc $rc"
  kmsg "end $id"
}

# The transition of a patch ends (enable or disable): at most 30 s.
settle() {
  local p=/sys/kernel/livepatch/$1 i
  for ((i = 0; i < 30; i++)); do
    [[ ! -e $p/transition || $(cat "$p/transition") == 0 ]] && return 0
    sleep 1
  done
  kmsg "problem: the transition of $1 did not end"
}

load() {
  case_of "$1-load" insmod "./klpc_$1.ko"
  settle "klpc_$1"
}

unload() {
  case_of "$1-disable" sh -c "echo 0 > /sys/kernel/livepatch/klpc_$1/enabled"
  settle "klpc_$1"
  case_of "$1-rmmod" rmmod "klpc_$1"
}

# The fixes this run has.
have() { [[ -f ./klpc_$1.ko ]]; }

# Debian's own target modules.
if have zram_debug_stat || have three_objects; then
  modprobe zram num_devices=1 || kmsg "problem: modprobe zram failed"
fi
if have three_objects; then
  modprobe binfmt_misc || kmsg "problem: modprobe binfmt_misc failed"
  mount -t binfmt_misc none /proc/sys/fs/binfmt_misc || kmsg "problem: mounting binfmt_misc failed"
fi
mkdir -p /mnt/p

if have cmdline_string; then
  case_of cmdline_string-before cat /proc/cmdline
  load cmdline_string
  case_of cmdline_string-after cat /proc/cmdline
  unload cmdline_string
  case_of cmdline_string-undone cat /proc/cmdline
fi

if have zram_debug_stat; then
  case_of zram_debug_stat-before cat /sys/block/zram0/debug_stat
  load zram_debug_stat
  case_of zram_debug_stat-after cat /sys/block/zram0/debug_stat
  unload zram_debug_stat
  case_of zram_debug_stat-undone cat /sys/block/zram0/debug_stat
fi

if have three_objects; then
  load three_objects
  case_of three_objects-loadavg cat /proc/loadavg
  case_of three_objects-binfmt cat /proc/sys/fs/binfmt_misc/status
  case_of three_objects-zram cat /sys/block/zram0/io_stat
  unload three_objects
  case_of three_objects-undone cat /proc/sys/fs/binfmt_misc/status
fi

if have new_function; then
  load new_function
  case_of new_function-after cat /proc/uptime
  unload new_function
fi

if have new_global; then
  load new_global
  case_of new_global-first grep KlpReads /proc/meminfo
  case_of new_global-second grep KlpReads /proc/meminfo
  unload new_global
fi

if have static_inline; then
  load static_inline
  case_of static_inline-after grep ctxt_switches /proc/self/status
  unload static_inline
  case_of static_inline-undone grep ctxt_switches /proc/self/status
fi

if have static_reloc; then
  load static_reloc
  case_of static_reloc-after cat /proc/self/stat
  unload static_reloc
fi

if have syscall; then
  case_of syscall-before uname -v
  load syscall
  case_of syscall-after uname -v
  unload syscall
  case_of syscall-undone uname -v
fi

if have callbacks; then
  load callbacks
  case_of callbacks-after cat /proc/version
  unload callbacks
  case_of callbacks-undone cat /proc/version
fi

if have shadow; then
  load shadow
  case_of shadow-first cat /proc/$$/personality
  case_of shadow-second cat /proc/$$/personality
  unload shadow
  case_of shadow-undone cat /proc/$$/personality
fi

if have sympos; then
  load sympos
  case_of sympos-khugepaged cat /sys/kernel/mm/transparent_hugepage/khugepaged/pages_to_scan
  case_of sympos-ksm cat /sys/kernel/mm/ksm/pages_to_scan
  unload sympos
fi

if have inlined; then
  case_of inlined-before mount -t PROC none /mnt/p
  load inlined
  case_of inlined-after mount -t PROC none /mnt/p
  case_of inlined-mounted cat /mnt/p/sys/kernel/osrelease
  umount /mnt/p
  unload inlined
  case_of inlined-undone mount -t PROC none /mnt/p
fi

if have clone; then
  load clone
  case_of clone-after sh -c 'echo 1000 > /proc/self/oom_score_adj && cat /proc/self/oom_score_adj'
  unload clone
  case_of clone-undone sh -c 'echo 1000 > /proc/self/oom_score_adj && cat /proc/self/oom_score_adj'
fi

# The static local last: writing 4 silences drop_caches for good.
if have static_local; then
  load static_local
  case_of static_local-drop1 sh -c 'echo 1 > /proc/sys/vm/drop_caches'
  case_of static_local-drop4 sh -c 'echo 4 > /proc/sys/vm/drop_caches'
  unload static_local
  case_of static_local-drop1-after sh -c 'echo 1 > /proc/sys/vm/drop_caches'
fi

echo "### klp-guest: done"
