#!/bin/sh
# The qemu guest's /init (busybox sh), put into the initramfs by
# qemu-kernel.sh. It mounts the usual file systems, runs /klp/cmd (the boot's
# command file, from the payload archive) with its output on the second
# serial port (ttyS1, raw) between marker lines, and ends the VM.
# /etc/klp-qemu.conf (written by qemu-kernel.sh) says which kernel this is:
#   kernel_kind=stock|split
# The markers are the ones qemu-kernel.sh looks for; keep them in step.
/bin/busybox --install -s /bin
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
echo 0 > /proc/sys/kernel/kptr_restrict
echo 0 > /proc/sys/kernel/dmesg_restrict
hostname klp-qemu
kernel_kind=stock
[ -f /etc/klp-qemu.conf ] && . /etc/klp-qemu.conf
out=/dev/ttyS1
stty -F $out raw -echo || echo "klp-qemu: stty on $out failed"
if [ "$kernel_kind" = split ]; then
  # The split kernel's request_module() runs /proc/sys/kernel/modprobe: an
  # absolute path (busybox's 'command -v' prints its applets' bare names),
  # kmod's modprobe when the initramfs has it.
  for m in /usr/bin/modprobe /sbin/modprobe /bin/modprobe; do
    [ -x $m ] && { echo $m > /proc/sys/kernel/modprobe; break; }
  done
fi
rc=255
{
  echo '@@KLP-QEMU-BEGIN@@'
  if [ -f /klp/cmd ]; then
    cd /work 2>/dev/null || cd /
    sh /klp/cmd </dev/null 2>&1
    rc=$?
  else
    echo "klp-qemu: no /klp/cmd in the initramfs"
  fi
  # A newline before the end marker (the host drops it again), so output
  # that does not end in a newline keeps the marker on a line of its own.
  echo
  echo "@@KLP-QEMU-END rc=$rc@@"
} > $out
# Closing ttyS1 (end of the block) waits until its output is sent.
sync
# The split kernel has no ACPI: 'poweroff -f' would halt it for good, while
# a reboot ends qemu (-no-reboot).
[ "$kernel_kind" = split ] || poweroff -f
reboot -f
