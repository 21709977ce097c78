#!/usr/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs a scenario's commands in the qemu guest (qemu-kernel.sh run; copied
# there as /work/run.sh), the modules installed under
# /lib/modules/$(uname -r)/extra and indexed by depmod. It reads
# /work/scenario, a file of lines (nothing of it is ever run as shell text):
#   @case <id> / @end <id>                       around each case (optional)
#   modprobe <module> [param=value...] | insmod <module> | rmmod <module>
#   echo 0|1 > /sys/kernel/livepatch/<patch>/enabled
#   @callback <module> pre_patch=<n>              (the test modules' pre_patch_ret)
#   @lsmod                                       the loaded modules, sorted
#   @sysfs <path> <expected>                     logs the file's mode and value
#                                                (the expectation is the simulator's)
#   @set_ftrace_enabled 0|1                      sysctl kernel.ftrace_enabled, logged as
#                                                the selftests' set_ftrace_enabled() does
#   # comment, blank lines
# After each case (and at the end) every patch is disabled and every module
# removed.
#
# Everything goes to the kernel log, so commands, their output and the
# kernel's own lines come out in one order (the protocol every guest script
# of the project speaks; the host's parseGuestReport() reads it):
#   klp-guest: case <id> / end <id>   around each case
#   klp-guest: % <command>            before each command
#   klp-guest: out <line>             its output (stdout and stderr)
#   klp-guest: rc <n>                 its exit status
#   klp-guest: lsmod <m> <m> ...      the loaded modules, sorted
#   klp-guest: sysfs <path>: <mode> [<value>] | sysfs <path>: No such file or directory
#   klp-guest: problem: <text>        the run cannot be trusted (a wait ran out,
#                                     a line it cannot run, a failed command)
# and '### klp-guest: done' on the output at the end.
set -u -o pipefail -o errtrace
trap 'kmsg "problem: $0 line $LINENO: $BASH_COMMAND failed"' ERR
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

lp=/sys/kernel/livepatch
extra=/lib/modules/$(uname -r)/extra
kmsg() { printf 'klp-guest: %s\n' "$*" > /dev/kmsg; }

# No command starts while a transition runs (as the selftests' loop_until).
# The selftests' busy target (test_klp_callbacks_busy block_transition=Y)
# stalls patching transitions on purpose and its test does not wait for them
# (load_lp_nowait): while it is loaded, only unpatching transitions (the
# patch's enabled reads 0) are waited for.
settle() {
  local i t busy pending
  for ((i = 0; i < 300; i++)); do
    busy=no pending=no
    if grep -qsx Y /sys/module/*/parameters/block_transition; then busy=yes; fi
    for t in "$lp"/*/transition; do
      [[ -e $t && $(cat "$t" 2>/dev/null) == 1 ]] || continue
      [[ $busy == yes && $(cat "${t%/transition}/enabled" 2>/dev/null) == 1 ]] && continue
      pending=yes
    done
    [[ $pending == no ]] && return 0
    sleep 0.1
  done
  kmsg "problem: a transition did not end"
}

# step SHOWN ARGV...: logs SHOWN, runs ARGV, logs its output and status.
step() {
  local shown=$1 out rc l i
  shift
  # A disabled patch drops its module reference after its sysfs directory is
  # gone (klp_free_patch_finish()): like the selftests' unload_mod(), rmmod
  # waits for the count to settle (a module in use keeps it).
  if [[ $1 == rmmod ]]; then
    for ((i = 0; i < 20; i++)); do
      [[ $(cat "/sys/module/$2/refcnt" 2>/dev/null) == 0 ]] && break
      sleep 0.1
    done
  fi
  kmsg "% $shown"
  if out=$("$@" 2>&1); then rc=0; else rc=$?; fi
  while IFS= read -r l; do
    if [[ -n $l ]]; then kmsg "out $l"; fi
  done <<<"$out"
  kmsg "rc $rc"
  settle
}

# A file write as the selftests' shell does it: bash's own message on failure.
write_file() { bash -c 'echo "$1" > "$2"' bash "$1" "$2"; }

# The selftests' check_sysfs_rights/_value read: the mode as 'stat --format %A'
# shows it, and a readable file's value.
sysfs() {
  local mode value=""
  if [[ ! -e $1 ]]; then kmsg "sysfs $1: No such file or directory"; return 0; fi
  mode=$(stat --format '%A' "$1")
  if [[ -f $1 && ${mode:1:1} == r ]]; then value=" $(cat "$1" 2>&1 | head -n 1)"; fi
  kmsg "sysfs $1: $mode$value"
}

# The selftests' set_ftrace_enabled(): the sysctl's outcome in the kernel log.
ftrace_enabled() {
  local result
  result=$(sysctl -q kernel.ftrace_enabled="$1" 2>&1 && sysctl kernel.ftrace_enabled 2>&1) || true
  printf 'livepatch: %s\n' "$result" > /dev/kmsg
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
  kmsg "problem: left loaded: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
}

name='[A-Za-z0-9_-]+'
param='[A-Za-z0-9_]+=[A-Za-z0-9_,.-]*'
# The pr_debug lines of the transitions, as the selftests' set_dynamic_debug().
printf 'file kernel/livepatch/* +p\nfunc klp_try_switch_task -p\n' \
  > /sys/kernel/debug/dynamic_debug/control 2>/dev/null || true

in_case=no
while IFS= read -r line || [[ -n $line ]]; do
  read -r -a w <<<"$line" || true
  [[ ${#w[@]} -eq 0 || ${w[0]} == '#'* ]] && continue
  if [[ ${w[0]} == @case && ${#w[@]} -eq 2 ]]; then
    kmsg "case ${w[1]}"; in_case=yes
  elif [[ ${w[0]} == @end && ${#w[@]} -eq 2 ]]; then
    kmsg "end ${w[1]}"; in_case=no; cleanup
  elif [[ ${w[0]} == @lsmod && ${#w[@]} -eq 1 ]]; then
    snapshot
  elif [[ ${w[0]} == @sysfs && ${#w[@]} -eq 3 && ${w[1]} =~ ^/sys/kernel/livepatch/[A-Za-z0-9_/.-]+$ && ${w[1]} != *..* ]]; then
    settle
    sysfs "${w[1]}"
  elif [[ ${w[0]} == @set_ftrace_enabled && ${#w[@]} -eq 2 && ${w[1]} =~ ^[01]$ ]]; then
    ftrace_enabled "${w[1]}"
  elif [[ ${w[0]} == modprobe && ${#w[@]} -ge 2 && ${w[1]} =~ ^$name$ ]]; then
    for p in "${w[@]:2}"; do
      [[ $p =~ ^$param$ ]] || { kmsg "problem: cannot run '$line'"; continue 2; }
    done
    # Shown as the simulator shows it: module names with '_'.
    step "modprobe ${w[1]//-/_}${w[2]:+ ${w[*]:2}}" modprobe "${w[@]:1}"
  elif [[ ${w[0]} == insmod && ${#w[@]} -eq 2 && ${w[1]} =~ ^$name$ ]]; then
    # The module's file: <name>.ko under extra/, else what modinfo finds
    # (module names use '_' where file names may use '-').
    ko=$extra/${w[1]}.ko
    [[ -f $ko ]] || ko=$(modinfo -n "${w[1]}" 2>/dev/null) || ko=$extra/${w[1]}.ko
    step "insmod ${w[1]//-/_}" insmod "$ko"
  elif [[ ${w[0]} == rmmod && ${#w[@]} -eq 2 && ${w[1]} =~ ^$name$ ]]; then
    step "rmmod ${w[1]//-/_}" rmmod "${w[1]//-/_}"
  elif [[ $line =~ ^[[:space:]]*echo[[:space:]]+([01])[[:space:]]*\>[[:space:]]*(/sys/kernel/livepatch/[A-Za-z0-9_]+/enabled)[[:space:]]*$ ]]; then
    v=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
    step "echo $v > $f" write_file "$v" "$f"
  elif [[ $line =~ ^[[:space:]]*@callback[[:space:]]+($name)[[:space:]]+pre_patch=(-?[0-9]+)[[:space:]]*$ ]]; then
    m=${BASH_REMATCH[1]//-/_} v=${BASH_REMATCH[2]}
    f=/sys/module/$m/parameters/pre_patch_ret
    step "echo $v > $f" write_file "$v" "$f"
  else
    kmsg "problem: cannot run '$line'"
  fi
done < /work/scenario
[[ $in_case == no ]] || kmsg "problem: the last case has no @end"
cleanup
echo "### klp-guest: done"
