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
#   base-<bkey>/linux   the stock tree, configured and built; <bkey> hashes the
#                       source package's version, the config list below and
#                       gcc's version
#   <key>/linux         a copy of the base with the patches applied and
#                       built again; <key> adds the sha256 of every
#                       patch in order
#   each with a .complete stamp written last; an unfinished directory is
#   resumed (make is incremental) or, when the patches did not apply, redone.
# A cold build (extract, configure, build the base, copy, patch, rebuild)
# needs about 7 minutes of CPU for the base and about 6 for the patched copy,
# which kbuild compiles again almost entirely (a copied tree rebuilds
# objtool, whose build records absolute paths); wall-clock time depends on
# the machine's load (see docs/split-kernel.md). Builds run under 'nice -n 10' with -j$(nproc); on a
# busy machine that starves them (KLP_SPLIT_KERNEL_NICE=0 builds at normal
# priority).
#
# Environment: KLP_SPLIT_CACHE, KLP_SPLIT_KERNEL_NICE (default 10),
# KLP_SPLIT_KERNEL_PATCHES (directory of the
# series, default kernel/patches of this project; an empty directory gives
# the stock kernel with the same config).
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

base_key() {
  { echo "source $(src_version)"; echo "yes ${config_yes[*]}"; echo "no ${config_no[*]}"
    echo "localversion $localversion"; echo "gcc $(gcc -dumpfullversion)"; } | sha256sum | cut -c1-16
}

patched_key() {
  local f
  { echo "base $1"
    for f in "${patches[@]}"; do echo "$(basename "$f") $(sha256sum < "$f" | cut -d' ' -f1)"; done
  } | sha256sum | cut -c1-16
}

jobs=$(nproc)
niceness=${KLP_SPLIT_KERNEL_NICE:-10}
[[ $niceness =~ ^[0-9]+$ ]] || die "KLP_SPLIT_KERNEL_NICE must be a number, got '$niceness'"
kmake() { nice -n "$niceness" make -s -C "$1" -j"$jobs" "${@:2}"; }

# ------------------------------------------------------------ base (stock)
configure() {
  local tree=$1 o bad=()
  kmake "$tree" tinyconfig >/dev/null
  for o in "${config_yes[@]}"; do "$tree/scripts/config" --file "$tree/.config" --enable "$o"; done
  for o in "${config_no[@]}"; do "$tree/scripts/config" --file "$tree/.config" --disable "$o"; done
  "$tree/scripts/config" --file "$tree/.config" --set-str LOCALVERSION "$localversion" \
    --disable LOCALVERSION_AUTO
  kmake "$tree" olddefconfig >/dev/null
  for o in "${config_yes[@]}"; do
    grep -qx "CONFIG_$o=y" "$tree/.config" || bad+=("$o")
  done
  for o in "${config_no[@]}"; do
    if grep -qx "CONFIG_$o=y" "$tree/.config"; then bad+=("!$o"); fi
  done
  [[ ${#bad[@]} -eq 0 ]] || die "after olddefconfig these options are not as required: ${bad[*]} (see $tree/.config)"
}

build_tree() {
  local tree=$1 t0
  t0=$(date +%s)
  # bzImage; modules (tinyconfig has next to none) so that Module.symvers
  # lists vmlinux's exports for external modules; modules_prepare.
  kmake "$tree" bzImage modules modules_prepare >"$tree/../build.log" 2>&1 \
    || { tail -n 40 "$tree/../build.log" >&2; die "kernel build failed in $tree (log: $tree/../build.log)"; }
  [[ -f "$tree/Module.symvers" && -f "$tree/arch/x86/boot/bzImage" ]] || die "build in $tree left no Module.symvers or bzImage"
  note "built $tree in $(( $(date +%s) - t0 ))s"
}

ensure_base() {
  local key=$1 dir="$top/base-$1"
  base_dir=$dir
  [[ -f "$dir/.complete" ]] && return 0
  if [[ ! -f "$dir/.extracted" ]]; then
    note "extracting $tarball into $dir"
    rm -rf "$dir"; mkdir -p "$dir"
    tar -xJf "$tarball" -C "$dir" || die "extracting $tarball failed"
    mv "$dir/linux-source-6.1" "$dir/linux"
    touch "$dir/.extracted"
  fi
  note "configuring and building the stock tree ($dir/linux)"
  configure "$dir/linux"
  build_tree "$dir/linux"
  echo "$key" > "$dir/.complete"
}

apply_patches() {
  local tree=$1 f
  for f in "${patches[@]}"; do
    patch -p1 -s -N -d "$tree" < "$f" >&2 || return 1
  done
}

ensure_patched() {
  local key=$1 dir="$top/$1"
  tree_dir="$dir/linux"
  [[ -f "$dir/.complete" ]] && return 0
  if [[ ! -f "$dir/.patched" ]]; then
    note "copying the base tree and applying ${#patches[@]} patches into $dir"
    rm -rf "$dir"; mkdir -p "$dir"
    cp -a "$base_dir/linux" "$dir/linux"
    if ! apply_patches "$dir/linux"; then
      rm -rf "$dir"
      die "the patches in $patch_dir do not apply to linux-source-6.1 $(src_version)"
    fi
    touch "$dir/.patched"
  fi
  note "rebuilding $dir/linux"
  build_tree "$dir/linux"
  echo "$key" > "$dir/.complete"
}

# ------------------------------------------------------------------- main
install_packages
list_patches
mkdir -p "$top"
bkey=$(base_key)
base_dir="$top/base-$bkey"
if [[ ${#patches[@]} -eq 0 ]]; then want=$base_dir; else want="$top/$(patched_key "$bkey")"; fi
if [[ -f "$want/.complete" ]]; then
  tree_dir="$want/linux"          # cached: no lock, so boots do not wait for a build
else
  exec 9>"$top/.lock"
  flock 9
  ensure_base "$bkey"
  if [[ ${#patches[@]} -eq 0 ]]; then
    tree_dir="$base_dir/linux"
  else
    ensure_patched "$(patched_key "$bkey")"
  fi
  flock -u 9
fi
touch "$tree_dir/../.complete" "$base_dir/.complete"
# Patched trees not used for a week go (each holds a full source tree).
find "$top" -mindepth 2 -maxdepth 2 -name .complete -mtime +7 -printf '%h\n' 2>/dev/null \
  | while IFS= read -r old; do rm -rf "$old"; done

case "$cmd" in
  build|kdir) echo "$tree_dir" ;;
  image) echo "$tree_dir/arch/x86/boot/bzImage" ;;
  release) cat "$tree_dir/include/config/kernel.release" ;;
esac
