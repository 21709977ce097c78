#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The split livepatch kernel: Debian's linux-source-6.1 with the project's
# kernel/patches/*.patch applied, configured small for qemu, built and cached.
#
# Usage: split-kernel.sh [build|kdir|image|release]
#   build    (default) build unless cached; print the tree's path
#   kdir     build unless cached; print the tree to build modules against
#            (make -C <kdir> M=...; its include/linux/livepatch.h has the
#            split API)
#   image    build unless cached; print the path of its bzImage
#   release  build unless cached; print its kernel release (uname -r)
#
# Cache: <cache>/split-kernel/ where <cache> is $KLP_SPLIT_CACHE or
# ~/.cache/klp-split.
#   <key>/linux   the source extracted, the patches applied, configured and
#                 built; <key> hashes the source package's version, the
#                 config lists below, gcc's version and the sha256 of every
#                 patch in order
#   with a .complete stamp written last; an unfinished tree is resumed (make
#   is incremental) or, when the patches did not apply, redone.
#   ccache/       the compiler cache, when ccache is installed: a patch
#                 series that changes recompiles only what it touches
# A cold build (extract, patch, configure, build) needs about 7 minutes of
# CPU; wall-clock time depends on the machine's load (see
# docs/split-kernel.md). While make runs, a progress line every 30 s
# ($KLP_SPLIT_KERNEL_PROGRESS seconds) says how many files it compiled.
# Builds run under 'nice -n 10' with -j$(nproc); on a busy machine that
# starves them (KLP_SPLIT_KERNEL_NICE=0 builds at normal priority).
#
# Environment: KLP_SPLIT_CACHE, KLP_SPLIT_KERNEL_NICE (default 10),
# KLP_SPLIT_KERNEL_PROGRESS (default 30), KLP_SPLIT_KERNEL_PATCHES
# (directory of the series, default kernel/patches of this project; an
# empty directory gives the stock kernel with the same config),
# KLP_SPLIT_KERNEL_CCACHE (auto: when ccache is installed; 0: never).
# Exit status: 0 ok; 2 setup or build failure (the failing step is named).
set -euo pipefail -o errtrace

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
project=$(cd "$here/.." && pwd)
trap 'echo "split-kernel: failed at line $LINENO: $BASH_COMMAND (status $?)" >&2; exit 2' ERR
export PATH="$PATH:/usr/sbin:/sbin"

die() { echo "split-kernel: $*" >&2; exit 2; }
note() { echo "split-kernel: $*" >&2; }

cmd=${1:-build}
case "$cmd" in
  build|kdir|image|release) [[ $# -le 1 ]] || die "usage: $0 [build|kdir|image|release]" ;;
  -h|--help) sed -n '3,/^set -euo/p' "$self" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown command '$cmd' (usage: $0 [build|kdir|image|release])" ;;
esac

tarball=/usr/src/linux-source-6.1.tar.xz
cache="${KLP_SPLIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/klp-split}"
top="$cache/split-kernel"
patch_dir=${KLP_SPLIT_KERNEL_PATCHES:-$project/kernel/patches}

# What the guest and livepatch need on top of tinyconfig. Each must be =y
# after olddefconfig; the build refuses otherwise.
config_yes=(
  64BIT MODULES MODULE_UNLOAD PRINTK TTY SERIAL_8250 SERIAL_8250_CONSOLE
  BLK_DEV_INITRD RD_GZIP DEVTMPFS DEVTMPFS_MOUNT PROC_FS PROC_SYSCTL SYSFS
  BINFMT_ELF BINFMT_SCRIPT MULTIUSER FUTEX POSIX_TIMERS SHMEM TMPFS DEBUG_FS
  DEBUG_KERNEL FTRACE FUNCTION_TRACER DYNAMIC_FTRACE DYNAMIC_FTRACE_WITH_REGS
  KALLSYMS KALLSYMS_ALL LIVEPATCH UNWINDER_ORC HAVE_RELIABLE_STACKTRACE
  DYNAMIC_DEBUG
)
# Off: module signing and versioning would only make hand-built modules fail.
config_no=(MODULE_SIG MODVERSIONS TRIM_UNUSED_KSYMS UNWINDER_FRAME_POINTER UNWINDER_GUESS)
localversion=-klp-split

# --------------------------------------------------------------- packages
install_packages() {
  local missing=() p
  [[ -f $tarball ]] || missing+=(linux-source-6.1)
  for p in make gcc flex bison bc xz:xz-utils perl; do
    command -v "${p%%:*}" >/dev/null || missing+=("${p##*:}")
  done
  [[ -f /usr/include/libelf.h ]] || missing+=(libelf-dev)
  [[ -f /usr/include/openssl/opensslv.h ]] || missing+=(libssl-dev)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    die "missing Debian packages: ${missing[*]} (install them with: apt-get install ${missing[*]})"
  fi
  note "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || die "apt-get install failed for: ${missing[*]}"
}

# ------------------------------------------------------------------- keys
src_version() { dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || stat -c '%s %Y' "$tarball"; }

patches=()
list_patches() {
  [[ -d $patch_dir ]] || die "no patch directory $patch_dir"
  local f
  while IFS= read -r f; do patches+=("$f"); done \
    < <(find "$patch_dir" -maxdepth 1 -name '*.patch' -type f | LC_ALL=C sort)
}

# The configuration's key, then the tree's: the configuration's key and
# every patch. (Two steps, as when the patched tree was a copy of a stock
# one: trees built then keep their names.)
config_key() {
  { echo "source $(src_version)"; echo "yes ${config_yes[*]}"; echo "no ${config_no[*]}"
    echo "localversion $localversion"; echo "gcc $(gcc -dumpfullversion)"; } | sha256sum | cut -c1-16
}

tree_key() {
  local f
  { echo "base $(config_key)"
    for f in "${patches[@]}"; do echo "$(basename "$f") $(sha256sum < "$f" | cut -d' ' -f1)"; done
  } | sha256sum | cut -c1-16
}

jobs=$(nproc)
niceness=${KLP_SPLIT_KERNEL_NICE:-10}
[[ $niceness =~ ^[0-9]+$ ]] || die "KLP_SPLIT_KERNEL_NICE must be a number, got '$niceness'"
progress_s=${KLP_SPLIT_KERNEL_PROGRESS:-30}
[[ $progress_s =~ ^[1-9][0-9]*$ ]] || die "KLP_SPLIT_KERNEL_PROGRESS must be a positive number of seconds, got '$progress_s'"

# ccache, when installed: the kernel compiles with relative paths, so with
# the tree as its base directory a tree of another key hits the same entries.
cc=gcc
if [[ ${KLP_SPLIT_KERNEL_CCACHE:-auto} != 0 ]] && command -v ccache >/dev/null; then
  cc="ccache gcc"
  # Depend mode: a compile that misses (every one of a first build) runs gcc once, with no preprocessor pass for the hash.
  export CCACHE_DIR="$top/ccache" CCACHE_NOHASHDIR=1 CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-2G} CCACHE_DEPEND=${CCACHE_DEPEND:-1}
fi
kmake() { CCACHE_BASEDIR=$1 nice -n "$niceness" make -C "$1" -j"$jobs" CC="$cc" "${@:2}"; }

# --------------------------------------------------------------- the tree
configure() {
  local tree=$1 o bad=()
  kmake "$tree" -s tinyconfig >/dev/null
  for o in "${config_yes[@]}"; do "$tree/scripts/config" --file "$tree/.config" --enable "$o"; done
  for o in "${config_no[@]}"; do "$tree/scripts/config" --file "$tree/.config" --disable "$o"; done
  "$tree/scripts/config" --file "$tree/.config" --set-str LOCALVERSION "$localversion" \
    --disable LOCALVERSION_AUTO
  kmake "$tree" -s olddefconfig >/dev/null
  for o in "${config_yes[@]}"; do
    grep -qx "CONFIG_$o=y" "$tree/.config" || bad+=("$o")
  done
  for o in "${config_no[@]}"; do
    if grep -qx "CONFIG_$o=y" "$tree/.config"; then bad+=("!$o"); fi
  done
  [[ ${#bad[@]} -eq 0 ]] || die "after olddefconfig these options are not as required: ${bad[*]} (see $tree/.config)"
}

# Files make compiled so far: kbuild's quiet lines ("  CC      kernel/fork.o").
compiled() { grep -c '^  CC ' "$1" 2>/dev/null || true; }

build_tree() {
  local tree=$1 log=$1/../build.log t0 pid rc=0 last total=""
  t0=$(date +%s)
  last=$t0
  [[ -f $top/.compiled ]] && total=$(cat "$top/.compiled")
  # bzImage; modules (tinyconfig has next to none) so that Module.symvers
  # lists vmlinux's exports for external modules; modules_prepare.
  kmake "$tree" bzImage modules modules_prepare >"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if (( $(date +%s) - last >= progress_s )); then
      last=$(date +%s)
      note "building: $(compiled "$log")${total:+ of about $total} files compiled, $(( last - t0 ))s"
    fi
  done
  wait "$pid" || rc=$?
  if [[ $rc -ne 0 ]]; then tail -n 40 "$log" >&2; die "kernel build failed in $tree (log: $log)"; fi
  [[ -f "$tree/Module.symvers" && -f "$tree/arch/x86/boot/bzImage" ]] || die "build in $tree left no Module.symvers or bzImage"
  # A full build's count is the next cold build's "of about".
  [[ -z $total ]] && compiled "$log" > "$top/.compiled"
  note "built $tree in $(( $(date +%s) - t0 ))s ($(compiled "$log") files compiled)"
}

apply_patches() {
  local tree=$1 f
  for f in "${patches[@]}"; do
    patch -p1 -s -N -d "$tree" < "$f" >&2 || return 1
  done
}

# Extract, patch, configure, build: one tree, built once.
ensure_tree() {
  local key=$1 dir="$top/$1"
  tree_dir="$dir/linux"
  [[ -f "$dir/.complete" ]] && return 0
  if [[ ! -f "$dir/.patched" ]]; then
    note "extracting $tarball into $dir and applying ${#patches[@]} patches"
    rm -rf "$dir"; mkdir -p "$dir"
    tar -xJf "$tarball" -C "$dir" || die "extracting $tarball failed"
    mv "$dir/linux-source-6.1" "$dir/linux"
    if ! apply_patches "$dir/linux"; then
      rm -rf "$dir"
      die "the patches in $patch_dir do not apply to linux-source-6.1 $(src_version)"
    fi
    touch "$dir/.patched"
  fi
  note "configuring and building $dir/linux$([[ $cc == gcc ]] || echo " (through ccache, $CCACHE_DIR)")"
  configure "$dir/linux"
  build_tree "$dir/linux"
  echo "$key" > "$dir/.complete"
}

# ------------------------------------------------------------------- main
install_packages
list_patches
mkdir -p "$top"
key=$(tree_key)
if [[ -f "$top/$key/.complete" ]]; then
  tree_dir="$top/$key/linux"      # cached: no lock, so boots do not wait for a build
else
  exec 9>"$top/.lock"
  flock 9
  ensure_tree "$key"
  flock -u 9
fi
touch "$tree_dir/../.complete"
# Trees not used for a week go (each holds a full source tree).
find "$top" -mindepth 2 -maxdepth 2 -name .complete -mtime +7 -printf '%h\n' 2>/dev/null \
  | while IFS= read -r old; do rm -rf "$old"; done

case "$cmd" in
  build|kdir) echo "$tree_dir" ;;
  image) echo "$tree_dir/arch/x86/boot/bzImage" ;;
  release) cat "$tree_dir/include/config/kernel.release" ;;
esac
