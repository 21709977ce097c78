#!/bin/sh
# The command file of 'qemu-kernel.sh run' (busybox sh, in the guest): runs
# /work/run.sh (with the interpreter of its '#!' line when it has one, else
# busybox sh), then prints the marker line '### klp-qemu: dmesg' and the
# kernel log written since it started; exits with run.sh's status.
dmesg -c >/dev/null
cd /work
if [ "$(head -c 2 ./run.sh)" = '#!' ]; then
  chmod +x ./run.sh
  set -- ./run.sh
else
  set -- sh ./run.sh
fi
# awk ends an unterminated last line, so the marker below starts a line.
{ "$@"; echo $? > /tmp/.klp-rc; } 2>&1 | awk '{ print; fflush() }'
rc=$(cat /tmp/.klp-rc 2>/dev/null || echo 255)
echo "### klp-qemu: dmesg"
dmesg
exit $rc
