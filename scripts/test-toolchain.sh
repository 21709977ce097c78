#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The compiler environment the test suite runs kbuild in: the same gcc,
# binutils and kbuild, with two costs that repeat in every kbuild run taken
# away.
#
# - ccache (installed with apt-get when missing and run as root): every
#   kbuild run starts with about thirty compiler probes (cc-option,
#   as-instr) on /dev/null, about a second of CPU; through ccache they are
#   cache hits after the first run. Depend mode (CCACHE_DEPEND), so a
#   compile that misses runs the compiler once, without a preprocessor pass
#   for the hash.
# - nm: binutils' nm loads every plugin in its bfd-plugins directories;
#   where LLVM's gold plugin is installed that is libLLVM, 60 ms a call, and
#   kbuild runs nm twice on every object (the .mod file's undefined symbols,
#   check-local-export). A `nm` first in PATH runs the same nm naming gcc's
#   LTO plugin, the only one that reads what gcc writes, so no other is
#   loaded. Its output is the same.
#
# Usage: test-toolchain.sh. Prints KEY=VALUE lines (PATH and CCACHE_*) for
# the test runner to add to the environment of the kernel build and vitest;
# notes go to stderr. Without ccache or gcc's plugin it prints what it can
# and says what it left out. Exit status: 0, or 2 when the cache directory
# cannot be written.
set -euo pipefail

note() { echo "test-toolchain: $*" >&2; }
cache="${KLP_SPLIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/klp-split}"
bin="$cache/toolchain/bin"
mkdir -p "$bin" || { note "cannot create $bin"; exit 2; }

path_prefix=""

if ! command -v ccache >/dev/null && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  note "installing ccache"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends ccache >&2; then
    apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends ccache >&2 || note "apt-get install ccache failed"
  fi
fi
if command -v ccache >/dev/null && [[ -x /usr/lib/ccache/gcc ]]; then
  # Debian's ccache links, named after the compilers (gcc, gcc-12, ...): kbuild's $(CC) finds them first.
  path_prefix="/usr/lib/ccache"
  echo "CCACHE_DIR=$cache/ccache-kbuild"
  echo "CCACHE_DEPEND=1"
  echo "CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-2G}"
else
  note "no ccache: every kbuild run compiles its compiler probes again"
fi

plugin=$(gcc -print-file-name=liblto_plugin.so 2>/dev/null || true)
real_nm=$(command -v nm || true)
if [[ $plugin == /* && -f $plugin && -n $real_nm && $real_nm != "$bin/nm" ]]; then
  printf '#!/bin/sh\n# Written by scripts/test-toolchain.sh: nm with gcc'"'"'s LTO plugin only.\nexec %q --plugin %q "$@"\n' "$real_nm" "$plugin" > "$bin/nm.tmp"
  chmod +x "$bin/nm.tmp"
  mv "$bin/nm.tmp" "$bin/nm"
  path_prefix="${path_prefix:+$path_prefix:}$bin"
else
  note "nm runs as installed (no gcc LTO plugin found)"
fi

echo "PATH=${path_prefix:+$path_prefix:}$PATH"
