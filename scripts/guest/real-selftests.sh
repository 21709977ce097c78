#!/bin/sh
# Guest side of scripts/real-selftests.sh (busybox sh, as /work/run.sh under
# qemu-kernel.sh run): runs the kernel's livepatch selftests copied into
# /work, one script of /work/selftests.list (a name a line) after the other,
# each under the limit in seconds of /work/selftests.timeout. Each script: a
# marker line on the output and in the kernel log before and after, its exit
# status and duration (from /proc/uptime, in ms) on the closing marker.
# bash's <(...) (diff in check_result) needs /dev/fd; devtmpfs has none.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
# /proc/uptime has centiseconds; "08" must not be read as octal.
uptime_ms() { read -r up _ < /proc/uptime; cs=${up#*.}; cs=${cs#0}; echo $(( ${up%.*} * 1000 + cs * 10 )); }
echo "### klp-selftests: kernel $(uname -r)"
# The symbol table as booted, before any module loads: names and types (addresses move with KASLR).
echo "### klp-selftests: kallsyms $(/usr/bin/awk '{ print $2, $3 }' /proc/kallsyms | sha256sum | cut -d' ' -f1) $(wc -l < /proc/kallsyms)"
# busybox sh runs its own applets before PATH (modprobe, timeout, awk...):
# the host programs are called by path here. bash (the scripts) uses PATH;
# print what it finds.
echo "### klp-selftests: $(/usr/bin/modprobe --version | head -n 1), $(/usr/bin/bash --version | head -n 1)"
echo "### klp-selftests: bash finds: $(/usr/bin/bash -c 'for p in modprobe rmmod modinfo comm diff mktemp sysctl dmesg grep sed awk stat; do printf "%s " "$(command -v $p)"; done')/bin/stat -> $(readlink /bin/stat)"
[ -d /sys/kernel/livepatch ] || echo "### klp-selftests: warning: no /sys/kernel/livepatch"
[ -f /sys/kernel/debug/dynamic_debug/control ] || echo "### klp-selftests: warning: no /sys/kernel/debug/dynamic_debug/control"
script_timeout=$(cat /work/selftests.timeout)
case $script_timeout in ''|*[!0-9]*) echo "### klp-selftests: bad selftests.timeout '$script_timeout'"; exit 2 ;; esac
all=0
while read -r s; do
  case $s in ''|*[!A-Za-z0-9_.-]*) echo "### klp-selftests: not a script name: '$s'"; all=1; continue ;; esac
  echo "### klp-selftests: begin $s"
  echo "klp-selftests: begin $s" > /dev/kmsg
  t0=$(uptime_ms)
  rm -f /tmp/.klp-st-rc
  # awk ends an unterminated last line, so the marker starts a line.
  { /usr/bin/timeout -k 10 "$script_timeout" /usr/bin/bash "./$s" </dev/null; echo $? > /tmp/.klp-st-rc; } 2>&1 | awk '{ print; fflush() }'
  rc=$(cat /tmp/.klp-st-rc 2>/dev/null || echo 255)
  t1=$(uptime_ms)
  echo "klp-selftests: end $s rc=$rc" > /dev/kmsg
  echo "### klp-selftests: end $s rc=$rc ms=$((t1 - t0))"
  [ "$rc" = 0 ] || all=1
done < /work/selftests.list
exit $all
