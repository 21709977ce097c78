#!/usr/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of test/e2e/klp-relocs-real.test.ts, on Debian's 6.1 (qemu-kernel.sh
# run): klpr-real.ko (a classic livepatch with livepatch relocations) and
# klpr-mod.ko (its target) are in /work. Each case is one command; the report
# goes to the kernel log in the protocol of packages/nx/scripts/guest/steps.sh
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

disable() { echo 0 > /sys/kernel/livepatch/klpr_real/enabled; }

case_of A-insmod-klpr-real insmod ./klpr-real.ko
sleep 2
case_of A-cmdline cat /proc/cmdline
case_of kallsyms grep -E ' (max_threads|console_show)$' /proc/kallsyms
case_of A-insmod-klpr-mod insmod ./klpr-mod.ko
case_of A-compute cat /sys/module/klpr_mod/parameters/compute
case_of A-rmmod-klpr_mod rmmod klpr_mod
case_of A-reload-klpr-mod insmod ./klpr-mod.ko
case_of A-disable disable
sleep 2
case_of A-rmmod-klpr_real rmmod klpr_real
case_of B-insmod-klpr-mod insmod ./klpr-mod.ko
case_of B-insmod-klpr-real insmod ./klpr-real.ko
sleep 2
case_of B-compute cat /sys/module/klpr_mod/parameters/compute
case_of B-cmdline cat /proc/cmdline
echo "### klp-guest: done"
