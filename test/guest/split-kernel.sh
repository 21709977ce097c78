#!/usr/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of test/e2e/split-kernel.test.ts, run on the split livepatch
# kernel (scripts/qemu-kernel.sh run, KLP_QEMU_KERNEL=split) with klpd-fix's
# split modules and the three example targets under
# /lib/modules/$(uname -r)/extra.
#
# Everything goes to the kernel log, so commands, their output and the
# kernel's own lines come out in one order:
#   klp-guest: case <id> / end <id>   around each case
#   klp-guest: % <command>            before each command
#   klp-guest: out <line>             its output (stdout and stderr)
#   klp-guest: rc <n>                 its exit status
#   klp-guest: lsmod <m> <m> ...      the loaded modules, sorted
#   klp-guest: problem: <text>        a wait that ran out (the run is void)
# The host reads them from the dmesg that qemu-kernel.sh appends.
set -u -o pipefail -o errtrace
trap 'kmsg "problem: line $LINENO: $BASH_COMMAND failed"' ERR
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

lp=/sys/kernel/livepatch
kmsg() { printf 'klp-guest: %s\n' "$*" > /dev/kmsg; }

# No command starts while a transition runs (as the selftests' loop_until).
settle() {
  local i
  for ((i = 0; i < 300; i++)); do
    grep -qs 1 "$lp"/*/transition || return 0
    sleep 0.1
  done
  kmsg "problem: a transition did not end"
}

# Runs one command; its output and status go to the log.
step() {
  local out rc l
  kmsg "% $*"
  if out=$("$@" 2>&1); then rc=0; else rc=$?; fi
  while IFS= read -r l; do
    if [[ -n $l ]]; then kmsg "out $l"; fi
  done <<<"$out"
  kmsg "rc $rc"
  settle
}

# The kernel removes per-object modules asynchronously: wait for $1 to go.
wait_gone() {
  local i
  for ((i = 0; i < 100; i++)); do
    grep -q "^$1 " /proc/modules || return 0
    sleep 0.1
  done
  kmsg "problem: module $1 is still loaded"
}

# A disabled patch drops its main module's reference from a work item.
wait_unused() {
  local i
  for ((i = 0; i < 100; i++)); do
    [[ $(cat "/sys/module/$1/refcnt" 2>/dev/null) == 0 ]] && return 0
    sleep 0.1
  done
  kmsg "problem: module $1 is still in use"
}

snapshot() { kmsg "lsmod $(cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ')"; }

objects() {
  kmsg "objects $(ls "$lp/$1" 2>/dev/null | grep -vx 'enabled\|transition\|force' | sort | tr '\n' ' ' || true)"
}

enable_patch() { step sh -c "echo $2 > $lp/$1/enabled"; }

cleanup() {
  local p m i
  for p in "$lp"/*/enabled; do
    if [[ -e $p && $(cat "$p") == 1 ]]; then echo 0 > "$p"; fi
  done
  settle
  for ((i = 0; i < 50; i++)); do
    for m in $(cut -d' ' -f1 /proc/modules); do rmmod "$m" 2>/dev/null || true; done
    [[ -s /proc/modules ]] || return 0
    sleep 0.1
  done
  kmsg "problem: left loaded: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
}

# Print the pr_debug lines of the transitions, as the selftests do.
printf 'file kernel/livepatch/* +p\nfunc klp_try_switch_task -p\n' \
  > /sys/kernel/debug/dynamic_debug/control 2>/dev/null || true

# 1. Targets loaded before and after the patch, one removed, then disable.
kmsg "case lifecycle"
step modprobe klpd_counter
step modprobe klpd_parser
snapshot
step modprobe klpd_fix
snapshot
objects klpd_fix
step cat /proc/cmdline
step modprobe klpd_ticker
snapshot
objects klpd_fix
step rmmod klpd_parser
wait_gone klpd_fix__klpd_parser
snapshot
objects klpd_fix
step modprobe klpd_parser
snapshot
enable_patch klpd_fix 0
wait_gone klpd_fix__klpd_counter
wait_gone klpd_fix__klpd_parser
wait_gone klpd_fix__klpd_ticker
snapshot
step cat /proc/cmdline
wait_unused klpd_fix
step rmmod klpd_fix
snapshot
kmsg "end lifecycle"
cleanup

# 2. A per-object module loaded by hand: without its patch, then without
#    its target.
kmsg "case by-hand"
part=$(modinfo -n klpd_fix__klpd_counter)
step modprobe klpd_counter
step insmod "$part"
step rmmod klpd_counter
step modprobe klpd_fix
step insmod "$part"
snapshot
kmsg "end by-hand"
cleanup

# 3. The patch loads with no target; targets come later; the patch's
#    per-object module is missing for one of them.
kmsg "case missing"
part=$(modinfo -n klpd_fix__klpd_parser)
step modprobe klpd_fix
step mv "$part" /tmp/part.ko
step modprobe klpd_parser
snapshot
step mv /tmp/part.ko "$part"
step modprobe klpd_parser
snapshot
kmsg "end missing"
cleanup

echo "### klp-guest: done"
