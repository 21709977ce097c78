#!/usr/bin/env bash
set -o errtrace
trap 'echo "$0: line $LINENO: $BASH_COMMAND failed (status $?)" >&2' ERR
# The kernel environment script ships inside @klp-split/kernel-facts (so an
# installed package finds it); this is the repository's short name for it.
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../packages/kernel-facts/scripts/kernel-env.sh" "$@"
