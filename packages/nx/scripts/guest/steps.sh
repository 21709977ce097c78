#!/usr/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The guest script of every real-kernel run of klp-split (simulate
# --real-kernel, the project's real-kernel suites): qemu-kernel.sh run copies
# it to /work/run.sh; the modules are under /lib/modules/$(uname -r)/extra,
# indexed by depmod. It reads /work/scenario, a file of lines, each one
# checked against the grammar below (nothing of it is ever run as shell text):
#   @case <id> / @end <id>          around each case; after @end every patch
#                                   is disabled and every module removed
#   modprobe <module> [param=value...] | insmod <module> | rmmod <module>
#   echo 0|1 > /sys/kernel/livepatch/<patch>/enabled
#   echo 1 > /sys/kernel/livepatch/<patch>/force
#   echo <integer> > <file under /proc/sys or /proc/<pid>>
#   cat <file under /proc, /sys or /mnt>
#   uname [-<letters>]
#   mount -t <type> none <mount point> | umount <mount point>
#                                   a mount point is /mnt/<name> (made when
#                                   missing) or /proc/sys/fs/binfmt_misc;
#                                   after @end what is mounted there goes
#   @callback <module> pre_patch=<n>   (the test modules' pre_patch_ret)
#   @lsmod                          the loaded modules, sorted
#   @objects <patch>                the patch's objects in sysfs, sorted
#   @sysfs <path> <expected>        logs the file's mode and value (the
#                                   expectation is the simulator's)
#   @set_ftrace_enabled 0|1         sysctl kernel.ftrace_enabled, logged as
#                                   the selftests' set_ftrace_enabled() does
#   @sleeping <module> <function>   a task of the module sleeps in a patched
#                                   function: transitions are not waited for
#                                   until the next force step
#   @bg <command>                   a command (of those above) in the
#                                   background, one at a time; @wait waits for
#                                   it and reports it
#   @until <path under /sys>        waits for the file to appear
#   @write <value> /sys/module/<module>/parameters/<param>   writes, unlogged
#   @gone <module>                  waits for the module to be unloaded
#   @hide <module> / @unhide <module>   moves the module's file aside and back
#   @symbols <name>...              the /proc/kallsyms lines of these names
#   @kallsyms-digest                sha256 and count of /proc/kallsyms's
#                                   "type name" columns
#   @selftest <script> <seconds>    runs the kernel selftest script /work/<script>
#                                   with bash under that time limit
#   # comment, blank lines
# Each command is bounded (100 s: a load waiting for a COMING module gives up
# after 30 s; a selftest script by its own limit), and after each one the
# script waits for transitions to end and for per-object modules whose
# object went to be removed.
#
# Everything goes to the kernel log, so commands, their output and the
# kernel's own lines come out in one order (the report protocol; the host's
# parseGuestReport() reads it):
#   klp-guest: case <id> / end <id>   around each case
#   klp-guest: % <command>            before each command
#   klp-guest: out <line>             its output (stdout and stderr)
#   klp-guest: rc <n>                 its exit status
#   klp-guest: lsmod <m> <m> ...      the loaded modules, sorted
#   klp-guest: objects <o> <o> ...    a patch's objects
#   klp-guest: sysfs <path>: <mode> [<value>] | sysfs <path>: No such file or directory
#   klp-guest: kallsyms-digest <sha256> <lines>
#   klp-guest: left <id> <m> ...      modules a case's cleanup could not remove
#   klp-guest: problem: <text>        the run cannot be trusted (a wait ran out,
#                                     a line it cannot run, a failed command)
# and '### klp-guest: done' on the output at the end.
set -u -o pipefail -o errtrace
trap 'kmsg "problem: $0 line $LINENO: $BASH_COMMAND failed"' ERR
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

lp=/sys/kernel/livepatch
extra=/lib/modules/$(uname -r)/extra
name='[A-Za-z0-9_-]+'
param='[A-Za-z0-9_]+=[A-Za-z0-9_,.-]*'
mount_point='/mnt/[A-Za-z0-9_-]+|/proc/sys/fs/binfmt_misc'
kmsg() { printf 'klp-guest: %s\n' "$*" > /dev/kmsg; }

# After '@sleeping <module> <function>' a task of the module sleeps in a
# patched function: the transition stalls until a force step.
stalls=

# No command starts while a transition runs (as the selftests' loop_until).
# The selftests' busy target (test_klp_callbacks_busy block_transition=Y)
# stalls patching transitions on purpose and its test does not wait for them
# (load_lp_nowait): while it is loaded, only unpatching transitions (the
# patch's enabled reads 0) are waited for.
settle() {
  local i t busy pending
  [[ -n $stalls ]] && return 0
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

# A per-object module <p>__<o> the kernel is about to remove: its object is
# not linked (no $lp/<p>/<o>) though patch and target may be there. The
# kernel removes such modules from a work item, so wait for them to go (a
# stale one, which stays, costs the full two seconds).
parts_settle() {
  local i m pending
  for ((i = 0; i < 20; i++)); do
    pending=
    for m in $(cut -d' ' -f1 /proc/modules); do
      [[ $m == *__* && ! -d $lp/${m%%__*}/${m#*__} ]] && pending=1
    done
    [[ -z $pending ]] && return 0
    sleep 0.1
  done
}

# Until module $1 is gone (the kernel removes per-object modules from a work item).
gone() {
  local i
  for ((i = 0; i < 100; i++)); do
    grep -q "^$1 " /proc/modules || return 0
    sleep 0.1
  done
  kmsg "problem: module $1 is still loaded"
}

# A command's output lines and status.
report() {
  local l
  while IFS= read -r l; do
    if [[ -n $l ]]; then kmsg "out $l"; fi
  done <<<"$1"
  # timeout(1) killed it (coreutils says 124, a signal 143): it would never have ended.
  if (($2 == 124 || $2 == 143)); then kmsg "out killed: the command did not end"; fi
  kmsg "rc $2"
}

# The module file of a module name: <name>.ko under extra/, else what modinfo
# finds (module names use '_' where file names may use '-').
module_file() {
  local ko=$extra/$1.ko
  [[ -f $ko ]] || ko=$(modinfo -n "$1" 2>/dev/null) || ko=$extra/$1.ko
  echo "$ko"
}

# Parses a command line into shown (as the simulator words it) and cmd (the
# argv to run); returns 1 for a line that is no command.
command_of() {
  local line=$1 w p v f
  read -r -a w <<<"$line" || true
  [[ ${#w[@]} -gt 0 ]] || return 1
  if [[ ${w[0]} == modprobe && ${#w[@]} -ge 2 && ${w[1]} =~ ^$name$ ]]; then
    for p in "${w[@]:2}"; do [[ $p =~ ^$param$ ]] || return 1; done
    shown="modprobe ${w[1]//-/_}${w[2]:+ ${w[*]:2}}" cmd=(modprobe "${w[@]:1}")
  elif [[ ${w[0]} == insmod && ${#w[@]} -eq 2 && ${w[1]} =~ ^$name$ ]]; then
    shown="insmod ${w[1]//-/_}" cmd=(insmod "$(module_file "${w[1]}")")
  elif [[ ${w[0]} == rmmod && ${#w[@]} -eq 2 && ${w[1]} =~ ^$name$ ]]; then
    shown="rmmod ${w[1]//-/_}" cmd=(rmmod "${w[1]//-/_}")
  elif [[ ${w[0]} == cat && ${#w[@]} -eq 2 && ${w[1]} =~ ^/(proc|sys|mnt)/[A-Za-z0-9_/.,:-]+$ && ${w[1]} != *..* ]]; then
    shown="cat ${w[1]}" cmd=(cat "${w[1]}")
  elif [[ ${w[0]} == uname && ${#w[@]} -le 2 && ${w[1]:--a} =~ ^-[a-z]+$ ]]; then
    shown="${w[*]}" cmd=("${w[@]}")
  elif [[ ${w[0]} == mount && ${#w[@]} -eq 5 && ${w[1]} == -t && ${w[2]} =~ ^[A-Za-z0-9_]+$ && ${w[3]} == none && ${w[4]} =~ ^($mount_point)$ ]]; then
    shown="mount -t ${w[2]} none ${w[4]}" cmd=(bash -c '[[ $2 != /mnt/* ]] || mkdir -p "$2"; mount -t "$1" none "$2"' bash "${w[2]}" "${w[4]}")
  elif [[ ${w[0]} == umount && ${#w[@]} -eq 2 && ${w[1]} =~ ^($mount_point)$ ]]; then
    shown="umount ${w[1]}" cmd=(umount "${w[1]}")
  elif [[ $line =~ ^[[:space:]]*echo[[:space:]]+([01])[[:space:]]*\>[[:space:]]*(/sys/kernel/livepatch/[A-Za-z0-9_]+/(enabled|force))[[:space:]]*$ ]]; then
    v=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
    [[ $f != */force || $v == 1 ]] || return 1
    # A file write as the selftests' shell does it: bash's own message on failure.
    shown="echo $v > $f" cmd=(bash -c 'echo "$1" > "$2"' bash "$v" "$f")
  elif [[ $line =~ ^[[:space:]]*echo[[:space:]]+(-?[0-9]+)[[:space:]]*\>[[:space:]]*(/proc/(sys|[0-9]+)/[A-Za-z0-9_/.-]+)[[:space:]]*$ && ${BASH_REMATCH[2]} != *..* ]]; then
    v=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
    shown="echo $v > $f" cmd=(bash -c 'echo "$1" > "$2"' bash "$v" "$f")
  elif [[ $line =~ ^[[:space:]]*@callback[[:space:]]+($name)[[:space:]]+pre_patch=(-?[0-9]+)[[:space:]]*$ ]]; then
    f=/sys/module/${BASH_REMATCH[1]//-/_}/parameters/pre_patch_ret v=${BASH_REMATCH[2]}
    shown="echo $v > $f" cmd=(bash -c 'echo "$1" > "$2"' bash "$v" "$f")
  else
    return 1
  fi
}

# Runs shown/cmd: logs the command, its output and status, then lets the kernel settle.
step() {
  local out rc i
  # A disabled patch drops its module reference after its sysfs directory is
  # gone (klp_free_patch_finish()): like the selftests' unload_mod(), rmmod
  # waits for the count to settle (a module in use keeps it).
  if [[ ${cmd[0]} == rmmod ]]; then
    for ((i = 0; i < 20; i++)); do
      [[ $(cat "/sys/module/${cmd[1]}/refcnt" 2>/dev/null) == 0 ]] && break
      sleep 0.1
    done
  fi
  [[ $shown == */force ]] && stalls=
  kmsg "% $shown"
  if out=$(timeout 100 "${cmd[@]}" 2>&1 </dev/null); then rc=0; else rc=$?; fi
  report "$out" "$rc"
  settle
  parts_settle
}

# The background command of @bg, reported by @wait.
bg_pid=
bg_start() {
  kmsg "% $shown"
  timeout 100 "${cmd[@]}" > /tmp/klp-bg.out 2>&1 </dev/null &
  bg_pid=$!
}
bg_wait() {
  local rc
  if [[ -z $bg_pid ]]; then kmsg "problem: @wait without @bg"; return 0; fi
  if wait "$bg_pid"; then rc=0; else rc=$?; fi
  bg_pid=
  report "$(cat /tmp/klp-bg.out)" "$rc"
  settle
  parts_settle
}

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

# A kernel selftest script in /work under a time limit, as its Makefile's runner would: bash, no input.
selftest() {
  local rc
  # bash's <(...) (diff in check_result) needs /dev/fd, which devtmpfs lacks;
  # check_sysfs_rights() runs stat --format, which busybox's stat lacks.
  [[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
  ln -sf /usr/bin/stat /bin/stat
  kmsg "% bash $1"
  if (cd /work && timeout -k 10 "$2" bash "./$1" > /tmp/klp-selftest.out 2>&1 </dev/null); then rc=0; else rc=$?; fi
  report "$(cat /tmp/klp-selftest.out)" "$rc"
  settle
}

# The loaded modules, sorted ('' when none; /proc/modules has no size to test).
loaded() { cut -d' ' -f1 /proc/modules | sort | tr '\n' ' '; }

snapshot() { kmsg "lsmod $(loaded)"; }

objects() {
  kmsg "objects $(ls "$lp/$1" 2>/dev/null | grep -vx 'enabled\|transition\|force' | sort | tr '\n' ' ' || true)"
}

cleanup() {
  local p m i
  stalls=
  # A mounted file system keeps its module: what a case mounted goes first (the last mount first).
  for m in $(awk -v re="^($mount_point)\$" '$2 ~ re { print $2 }' /proc/mounts | sort -r); do umount "$m" || true; done
  for p in "$lp"/*/enabled; do
    if [[ -e $p && $(cat "$p") == 1 ]]; then echo 0 > "$p" || true; fi
  done
  settle
  for ((i = 0; i < 50; i++)); do
    for m in $(cut -d' ' -f1 /proc/modules); do rmmod "$m" 2>/dev/null || true; done
    [[ -z $(loaded) ]] && return 0
    sleep 0.1
  done
}

# The pr_debug lines of the transitions, as the selftests' set_dynamic_debug().
printf 'file kernel/livepatch/* +p\nfunc klp_try_switch_task -p\n' \
  > /sys/kernel/debug/dynamic_debug/control 2>/dev/null || true
mkdir -p /tmp/klp-hidden

case_id=
while IFS= read -r line || [[ -n $line ]]; do
  read -r -a w <<<"$line" || true
  [[ ${#w[@]} -eq 0 || ${w[0]} == '#'* ]] && continue
  shown='' cmd=()
  case "${w[0]}:${#w[@]}" in
    @case:2) case_id=${w[1]}; kmsg "case $case_id" ;;
    @end:2)
      [[ ${w[1]} == "$case_id" ]] || kmsg "problem: '@end ${w[1]}' closes case '$case_id'"
      kmsg "end ${w[1]}"
      case_id=
      # What cleaning up makes the kernel print is no case's; what it cannot remove (a module pinned for good) is.
      cleanup
      left=$(loaded)
      if [[ -n $left ]]; then kmsg "left ${w[1]} $left"; fi
      ;;
    @lsmod:1) snapshot ;;
    @objects:2) [[ ${w[1]} =~ ^[A-Za-z0-9_]+$ ]] && objects "${w[1]}" || kmsg "problem: cannot run '$line'" ;;
    @sysfs:3)
      if [[ ${w[1]} =~ ^/sys/kernel/livepatch/[A-Za-z0-9_/.-]+$ && ${w[1]} != *..* ]]; then settle; sysfs "${w[1]}"; else kmsg "problem: cannot run '$line'"; fi ;;
    @set_ftrace_enabled:2) [[ ${w[1]} =~ ^[01]$ ]] && ftrace_enabled "${w[1]}" || kmsg "problem: cannot run '$line'" ;;
    @sleeping:3) [[ ${w[1]} =~ ^$name$ && ${w[2]} =~ ^[A-Za-z0-9_]+$ ]] && stalls=1 || kmsg "problem: cannot run '$line'" ;;
    @bg:*) if command_of "${line#*@bg}"; then bg_start; else kmsg "problem: cannot run '$line'"; fi ;;
    @wait:1) bg_wait ;;
    @until:2)
      if [[ ${w[1]} =~ ^/sys/[A-Za-z0-9_/.-]+$ && ${w[1]} != *..* ]]; then
        for ((i = 0; i < 300; i++)); do [[ -e ${w[1]} ]] && break; sleep 0.1; done
        [[ -e ${w[1]} ]] || kmsg "problem: ${w[1]} did not appear"
      else kmsg "problem: cannot run '$line'"; fi ;;
    @write:3)
      if [[ ${w[1]} =~ ^[A-Za-z0-9_-]+$ && ${w[2]} =~ ^/sys/module/[A-Za-z0-9_]+/parameters/[A-Za-z0-9_]+$ ]]; then
        echo "${w[1]}" > "${w[2]}" || kmsg "problem: cannot write ${w[2]}"
      else kmsg "problem: cannot run '$line'"; fi ;;
    @gone:2) [[ ${w[1]} =~ ^[A-Za-z0-9_]+$ ]] && gone "${w[1]}" || kmsg "problem: cannot run '$line'" ;;
    @hide:2 | @unhide:2)
      if [[ ${w[1]} =~ ^$name$ ]]; then
        f=$(module_file "${w[1]}")
        if [[ ${w[0]} == @hide ]]; then mv "$f" "/tmp/klp-hidden/${w[1]}" && echo "$f" > "/tmp/klp-hidden/${w[1]}.path"
        else mv "/tmp/klp-hidden/${w[1]}" "$(cat "/tmp/klp-hidden/${w[1]}.path")"; fi || kmsg "problem: cannot run '$line'"
      else kmsg "problem: cannot run '$line'"; fi ;;
    @symbols:*)
      if [[ ${#w[@]} -ge 2 && ${line#*@symbols} =~ ^([[:space:]]+[A-Za-z_][A-Za-z0-9_.]*)+[[:space:]]*$ ]]; then
        alt=$(IFS='|'; echo "${w[*]:1}")
        shown="grep -E ' ($alt)\$' /proc/kallsyms" cmd=(grep -E " ($alt)\$" /proc/kallsyms)
        step
      else kmsg "problem: cannot run '$line'"; fi ;;
    @kallsyms-digest:1) kmsg "kallsyms-digest $(awk '{ print $2, $3 }' /proc/kallsyms | sha256sum | cut -d' ' -f1) $(wc -l < /proc/kallsyms)" ;;
    @selftest:3)
      if [[ ${w[1]} =~ ^[A-Za-z0-9_.-]+\.sh$ && -f /work/${w[1]} && ${w[2]} =~ ^[1-9][0-9]*$ ]]; then selftest "${w[1]}" "${w[2]}"; else kmsg "problem: cannot run '$line'"; fi ;;
    *) if command_of "$line"; then step; else kmsg "problem: cannot run '$line'"; fi ;;
  esac
done < /work/scenario
[[ -z $case_id ]] || kmsg "problem: the last case has no @end"
[[ -z $bg_pid ]] || kmsg "problem: @bg without @wait"
cleanup
echo "### klp-guest: done"
