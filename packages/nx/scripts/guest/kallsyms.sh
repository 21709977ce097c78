#!/bin/sh
# The command file of 'qemu-kernel.sh kallsyms' (busybox sh, in the guest):
# /proc/kallsyms gzipped and base64-encoded, since the serial port is the
# slow part (about 100 KB/s under TCG; 3.9 MB of text become 1.1 MB).
set -o pipefail
gzip -c /proc/kallsyms | base64
