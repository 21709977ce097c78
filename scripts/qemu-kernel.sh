#!/usr/bin/env bash
set -o errtrace
trap 'echo "$0: line $LINENO: $BASH_COMMAND failed (status $?)" >&2' ERR
# The qemu harness ships inside @klp-split/nx (klp-split kernel add boots each
# release with it); this is the repository's short name for it. Its helper
# scripts (kernel-env.sh, ...) are the ones next to this file.
scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KLP_QEMU_HELPERS=$scripts exec bash "$scripts/../packages/nx/scripts/qemu-kernel.sh" "$@"
