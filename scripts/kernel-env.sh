#!/usr/bin/env bash
# The kernel environment script ships inside @klp-split/kbuild-gen (so an
# installed package finds it); this is the repository's short name for it.
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../packages/kbuild-gen/scripts/kernel-env.sh" "$@"
