#!/usr/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of test/e2e/split-differential-faults.test.ts, run on the split
# livepatch kernel (test/helpers/split-kernel.ts runOnSplitKernel()) with the
# cases' modules under /lib/modules/$(uname -r)/extra.
#
# Reads /klp-split-faults/cases, lines of:
#   case <id>       a case starts
#   <command>       a step in the scenario language of `klp-split simulate`
#   end             the case ends: every patch is disabled, every module removed
# '@sleeping <module> <function>' says that the module's own thread sleeps
# there (the simulator needs to be told): transitions are not waited for
# until the next force step.
# and writes to the kernel log (one order for commands and kernel lines):
#   split-guest: case <id> / end <id>, % <command>, out <line>, rc <n>,
#   lsmod <m>... (the modules loaded when the case's steps are done),
#   cleanup (what follows is the cleaning up), left <m>... (what it could not remove),
#   out killed: the command did not end (the 100 s timeout killed it),
#   problem: <text> (a wait that ran out or a command cut off: the run is void).
set -u -o pipefail -o errtrace
trap 'kmsg "problem: line $LINENO: $BASH_COMMAND failed"' ERR
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

lp=/sys/kernel/livepatch
extra=/lib/modules/$(uname -r)/extra
kmsg() { printf 'split-guest: %s\n' "$*" > /dev/kmsg; }

# After '@sleeping <module> <function>' a task of the module sleeps in a
# patched function: the transition stalls until a force step.
stalls=

# No command starts while a transition runs (as the selftests' loop_until).
settle() {
  local i
  [[ -n $stalls ]] && return 0
  for ((i = 0; i < 300; i++)); do
    grep -qs 1 "$lp"/*/transition || return 0
    sleep 0.1
  done
  kmsg "problem: a transition did not end"
}

# A per-object module <p>__<o> the kernel is about to remove: its object is
# not linked (no $lp/<p>/<o>) though patch and target may be there. The
# kernel removes such modules from a work item, so wait for them to go (a
# stale one, which stays, costs the full two seconds).
parts_settle() {
  local i m p o pending
  for ((i = 0; i < 20; i++)); do
    pending=
    for m in $(cut -d' ' -f1 /proc/modules); do
      [[ $m == *__* ]] || continue
      p=${m%%__*} o=${m#*__}
      [[ -d $lp/$p/$o ]] || pending=1
    done
    [[ -z $pending ]] && return 0
    sleep 0.1
  done
}

# A disabled patch drops its main module's reference from a work item: like
# the selftests' unload_mod(), rmmod waits for the count to settle.
refs_settle() {
  local i
  for ((i = 0; i < 20; i++)); do
    [[ $(cat "/sys/module/$1/refcnt" 2>/dev/null) == 0 ]] && return 0
    sleep 0.1
  done
}

# The shell text of a scenario step.
shell_of() {
  local cb='^@callback ([A-Za-z0-9_]+) pre_patch=(-?[0-9]+)$'
  if [[ $1 =~ $cb ]]; then
    printf 'echo %s > /sys/module/%s/parameters/pre_patch_ret' "${BASH_REMATCH[2]}" "${BASH_REMATCH[1]}"
  elif [[ $1 == 'insmod '* ]]; then
    printf 'insmod %s/%s.ko' "$extra" "${1#insmod }"
  else
    printf '%s' "$1"
  fi
}

# Background commands (@bg ... @wait): one at a time, reported when waited for.
bg_pid=

step() {
  local out rc l i
  if [[ $1 == '@sleeping '* ]]; then stalls=1; return 0; fi
  if [[ $1 == '@bg '* ]]; then
    kmsg "% ${1#@bg }"
    bash -c "${1#@bg }" > /tmp/bg.out 2>&1 </dev/null &
    bg_pid=$!
    return 0
  fi
  if [[ $1 == '@until '* ]]; then
    for ((i = 0; i < 300; i++)); do
      [[ -e ${1#@until } ]] && return 0
      sleep 0.1
    done
    kmsg "problem: ${1#@until } did not appear"
    return 0
  fi
  if [[ $1 == '@write '* ]]; then
    l=${1#@write }
    echo "${l%% *}" > "${l#* }"
    return 0
  fi
  if [[ $1 == '@wait' ]]; then
    if wait "$bg_pid"; then rc=0; else rc=$?; fi
    while IFS= read -r l; do
      if [[ -n $l ]]; then kmsg "out ${l//$extra\//}"; fi
    done < /tmp/bg.out
    kmsg "rc $rc"
    settle
    parts_settle
    return 0
  fi
  if [[ $1 == *'/force' ]]; then stalls=; fi
  if [[ $1 == 'rmmod '* ]]; then refs_settle "${1#rmmod }"; fi
  # A callback's return is shown as the shell writes it, as the simulator shows it.
  if [[ $1 == '@callback '* ]]; then kmsg "% $(shell_of "$1")"; else kmsg "% $1"; fi
  # A bound for the steps that wait in the kernel (a load waiting for a COMING module gives up after 30 s).
  if out=$(timeout 100 bash -c "$(shell_of "$1")" 2>&1 </dev/null); then rc=0; else rc=$?; fi
  while IFS= read -r l; do
    if [[ -n $l ]]; then kmsg "out ${l//$extra\//}"; fi
  done <<<"$out"
  # timeout(1) killed it (busybox reports the signal's status, coreutils 124): it would never have ended.
  if ((rc == 124 || rc == 143)); then kmsg "out killed: the command did not end"; fi
  kmsg "rc $rc"
  settle
  parts_settle
}

snapshot() { kmsg "lsmod $(cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ')"; }

cleanup() {
  local p m i
  for p in "$lp"/*/enabled; do
    if [[ -e $p && $(cat "$p") == 1 ]]; then echo 0 > "$p" || true; fi
  done
  settle
  for ((i = 0; i < 50; i++)); do
    for m in $(cut -d' ' -f1 /proc/modules); do rmmod "$m" 2>/dev/null || true; done
    [[ -s /proc/modules ]] || return 0
    sleep 0.1
  done
}

# The pr_debug lines of the transitions, as the selftests enable them.
printf 'file kernel/livepatch/* +p\nfunc klp_try_switch_task -p\n' \
  > /sys/kernel/debug/dynamic_debug/control 2>/dev/null || true

while IFS= read -r line; do
  case $line in
    'case '*) id=${line#case }; kmsg "case $id" ;;
    end)
      snapshot
      # What cleaning up makes the kernel print is not the case's; what it cannot remove is (a module pinned for good).
      kmsg cleanup
      stalls=
      cleanup
      kmsg "left $(cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ')"
      kmsg "end $id"
      ;;
    *) step "$line" ;;
  esac
done < /klp-split-faults/cases

echo "### split-guest: done"
