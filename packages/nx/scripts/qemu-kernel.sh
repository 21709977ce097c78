#!/usr/bin/env bash
# Real-kernel harness for klp-split: boots Debian's 6.1 kernel (the exact
# release the project's headers belong to) under qemu with a busybox
# initramfs, runs one command file as root and collects its output.
#
# Usage:
#   qemu-kernel.sh kallsyms   print the path of <cache>/kallsyms-<release>.txt, a
#                             verbatim copy of the booted kernel's /proc/kallsyms
#                             (booted once with nokaslr; cached afterwards)
#   qemu-kernel.sh run DIR    copy DIR's files to /work in the guest, run
#                             /work/run.sh with busybox sh as root; print its
#                             output (stdout and stderr; a missing final
#                             newline is added), then a line
#                             '### klp-qemu: dmesg' and the kernel log written
#                             since run.sh started; exit with run.sh's status
#   qemu-kernel.sh initramfs  build (or reuse) the base initramfs, print its path
#
# How it works:
#   - The release comes from scripts/kernel-env.sh (KLP_KERNEL_RELEASE); the
#     cache is $KLP_SPLIT_CACHE or ~/.cache/klp-split, ours is <cache>/qemu/.
#   - qemu-system-x86, busybox-static, cpio and kmod are installed with
#     apt-get when missing (root only; otherwise one message, exit 2).
#   - The kernel: /boot/vmlinuz-<release> when linux-image-<release> is
#     installed; otherwise the package (or its -unsigned twin) is fetched with
#     'apt-get download' and unpacked into <cache>/qemu/linux-image-<release>/.
#     This avoids 'apt-get install' of a kernel on the host, which would pull
#     in initramfs-tools/udev, upgrade systemd and run update-initramfs.
#   - The base initramfs (cached per KLP_QEMU_KMODS/KLP_QEMU_BINS, rebuilt
#     when anything that goes into it changes, about 1 MB) holds
#     a static busybox, /init, kernel modules livepatch needs when they are
#     modules (none on Debian: CONFIG_LIVEPATCH=y), extra modules from
#     $KLP_QEMU_KMODS and extra host programs with their shared libraries from
#     $KLP_QEMU_BINS, by default the list in guest/programs next to this
#     script (bash, kmod's tools and the GNU tools the selftests call).
#     Each boot appends a second, uncompressed cpio archive holding /klp/cmd
#     (the command file) and /work (for 'run'), and for 'run' the contents of
#     $KLP_QEMU_ROOTFS when set: a directory copied onto the guest's root
#     (e.g. lib/modules/<release>/ with extra modules and their depmod
#     indexes); its files replace those of the base initramfs.
#   - The guest's scripts are files next to this one: guest/init.sh (/init),
#     guest/run.sh ('run''s command file) and guest/kallsyms.sh.
#   - /init mounts proc, sysfs, devtmpfs, debugfs and tracefs, sets
#     kptr_restrict=0, runs /klp/cmd with its output going to the second
#     serial port (ttyS1, raw mode) between marker lines, and powers off.
#     The kernel console is ttyS0, a separate file, so console messages never
#     mix with the payload; it is printed on stderr when the guest fails
#     (panic, oops in init, timeout).
#   - qemu runs with -no-reboot under 'timeout' ($KLP_QEMU_TIMEOUT seconds,
#     default 300), so a hung or panicking guest always ends. A boot to a
#     shell takes about 10 s here (TCG, 2 cores), the kallsyms dump about 25 s.
#   - 'kallsyms' sends /proc/kallsyms gzipped and base64-encoded (the serial
#     port moves about 100 KB/s under TCG; 3.9 MB of text become 1.1 MB).
#     The dump is keyed by the release and vmlinuz's size and mtime;
#     a flock on <cache>/qemu/.lock serialises installs, builds and the boot
#     that creates the dump ('run' boots in parallel once set up).
#
# The kernel to boot: KLP_QEMU_KERNEL=stock (default) is Debian's image of
# the headers' release, as above; KLP_QEMU_KERNEL=split is the split
# livepatch kernel of scripts/split-kernel.sh (built on first use, cached),
# whose release is '6.1.<n>-klp-split'. Its modules.builtin/modules.order
# come from its build tree; KLP_QEMU_KMODS is not supported with it (it has
# no modules of its own; livepatch is built in). Its guest points
# /proc/sys/kernel/modprobe at the initramfs's modprobe (kmod's when
# KLP_QEMU_BINS has it), so that request_module() of the livepatch core finds
# the per-object modules under /lib/modules/<release> (KLP_QEMU_ROOTFS).
#
# Environment: KLP_SPLIT_CACHE, KLP_QEMU_RELEASE (the release to boot;
# default: kernel-env.sh's), KLP_QEMU_TIMEOUT (s), KLP_QEMU_MEM (default
# 768M), KLP_QEMU_SMP (default 1), KLP_QEMU_ACCEL (default tcg; kvm where it
# works), KLP_QEMU_APPEND (extra kernel arguments), KLP_QEMU_KMODS,
# KLP_QEMU_BINS, KLP_QEMU_ROOTFS (see above).
# Exit status: 2 for setup problems (missing packages, download, build) and
# for a failed kallsyms boot; 'run' exits with run.sh's status, or 125 when
# the guest did not finish.
set -euo pipefail -o errtrace
trap 'rc=$?; echo "qemu-kernel: line $LINENO: $BASH_COMMAND failed (status $rc)" >&2' ERR

self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
# Helper scripts (kernel-env.sh): the repository's scripts/ when called
# through it (KLP_QEMU_HELPERS), else this directory.
here=${KLP_QEMU_HELPERS:-$(dirname "$self")}
# The guest's scripts and program list ship with this script.
guest_dir="$(dirname "$self")/guest"
export PATH="$PATH:/usr/sbin:/sbin"

die() { echo "qemu-kernel: $*" >&2; exit 2; }
note() { echo "qemu-kernel: $*" >&2; }

usage() { sed -n '2,16p' "$self" | sed 's/^# \{0,1\}//'; }

# Marker lines on the payload channel (ttyS1).
begin_marker='@@KLP-QEMU-BEGIN@@'
end_marker='@@KLP-QEMU-END'

# ---------------------------------------------------------------- arguments
cmd=${1:-}
case "$cmd" in
  kallsyms|initramfs) [[ $# -eq 1 ]] || die "usage: $0 $cmd (no further arguments)" ;;
  run)
    [[ $# -eq 2 ]] || die "usage: $0 run DIR (DIR holds run.sh and its files)"
    run_dir=$(cd "$2" 2>/dev/null && pwd) || die "run: '$2' is not a directory"
    [[ -f "$run_dir/run.sh" ]] || die "run: $run_dir/run.sh does not exist"
    if [[ -n ${KLP_QEMU_ROOTFS:-} ]]; then
      rootfs_dir=$(cd "$KLP_QEMU_ROOTFS" 2>/dev/null && pwd) \
        || die "KLP_QEMU_ROOTFS: '$KLP_QEMU_ROOTFS' is not a directory"
    fi
    ;;
  -h|--help) usage; exit 0 ;;
  '') usage >&2; exit 2 ;;
  *) echo "qemu-kernel: unknown command '$cmd'" >&2; usage >&2; exit 2 ;;
esac

# ------------------------------------------------------ release and cache
# kernel-env.sh prints its own message (and exits 2) when it cannot set up.
# KLP_QEMU_RELEASE names the release to boot (klp-split kernel add: one
# image, initramfs and kallsyms dump per release, cached side by side).
if [[ -n ${KLP_QEMU_RELEASE:-} ]]; then
  [[ $KLP_QEMU_RELEASE =~ ^[0-9]+\.[0-9]+[A-Za-z0-9.+_~-]*$ ]] || die "KLP_QEMU_RELEASE: '$KLP_QEMU_RELEASE' is not a kernel release"
  release=$KLP_QEMU_RELEASE env_json=""
  cache="${KLP_SPLIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/klp-split}"
else
  [[ -f "$here/kernel-env.sh" ]] || die "no kernel-env.sh next to $self: set KLP_QEMU_RELEASE"
  env_json=$(bash "$here/kernel-env.sh" --json) || exit 2
  json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$env_json"; }
  release=$(json_field KLP_KERNEL_RELEASE)
  cache=$(json_field KLP_CACHE)
fi
[[ -n "$release" && -n "$cache" ]] || die "cannot read KLP_KERNEL_RELEASE/KLP_CACHE from: $env_json"
kernel_kind=${KLP_QEMU_KERNEL:-stock}
case $kernel_kind in
  stock) ;;
  split)
    # split-kernel.sh prints its own message (and exits 2) when it cannot build.
    split_tree=$(bash "$here/split-kernel.sh" kdir) || exit 2
    release=$(cat "$split_tree/include/config/kernel.release")
    [[ -z ${KLP_QEMU_KMODS:-} ]] || die "KLP_QEMU_KMODS is not supported with KLP_QEMU_KERNEL=split"
    ;;
  *) die "KLP_QEMU_KERNEL must be 'stock' or 'split', got '$kernel_kind'" ;;
esac
qdir="$cache/qemu"
mkdir -p "$qdir" || die "cannot create $qdir"
kallsyms_file="$cache/kallsyms-$release.txt"
kallsyms_key_file="$cache/kallsyms-$release.key"

timeout_s=${KLP_QEMU_TIMEOUT:-300}
mem=${KLP_QEMU_MEM:-768M}
smp=${KLP_QEMU_SMP:-1}
# TCG by default: /dev/kvm may exist without working (nested guests hang).
accel=${KLP_QEMU_ACCEL:-tcg}
[[ $timeout_s =~ ^[0-9]+$ ]] || die "KLP_QEMU_TIMEOUT must be a number of seconds, got '$timeout_s'"
[[ $smp =~ ^[0-9]+$ ]] || die "KLP_QEMU_SMP must be a number, got '$smp'"

# ------------------------------------------------------------- the kernel
image_root="$qdir/linux-image-$release"   # where a downloaded package is unpacked

# Sets kroot ("" for /, else the unpack directory) when the kernel is there.
locate_kernel() {
  if [[ $kernel_kind == split ]]; then
    kroot=$split_tree
    vmlinuz="$split_tree/arch/x86/boot/bzImage"
    kconfig="$split_tree/.config"
    moddir=$split_tree          # modules.builtin, modules.order of the build
    return 0
  fi
  if [[ -r /boot/vmlinuz-$release && -f /lib/modules/$release/modules.builtin ]]; then
    kroot=""
  elif [[ -f "$image_root/.complete" ]]; then
    kroot="$image_root"
  else
    return 1
  fi
  vmlinuz="$kroot/boot/vmlinuz-$release"
  kconfig="$kroot/boot/config-$release"
  moddir="$kroot/lib/modules/$release"
}

kernel_key() { echo "$release $(stat -c '%s %Y' "$vmlinuz")"; }

# Fast path for 'kallsyms': a dump that matches the kernel needs no lock,
# no install and no boot.
if [[ $cmd == kallsyms ]] && locate_kernel && [[ -s "$kallsyms_file" && -f "$kallsyms_key_file" ]] \
   && [[ "$(cat "$kallsyms_key_file")" == "$(kernel_key)" ]]; then
  echo "$kallsyms_file"
  exit 0
fi

exec 8>"$qdir/.lock" || die "cannot open $qdir/.lock"
flock 8 || die "cannot lock $qdir/.lock"

# ----------------------------------------------------------------- install
host_packages=(qemu-system-x86 busybox-static cpio kmod)

pkg_installed() { [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]; }

missing_packages() {
  local missing=()
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  pkg_installed busybox-static || missing+=(busybox-static)   # a static /bin/busybox
  command -v cpio >/dev/null || missing+=(cpio)
  command -v depmod >/dev/null || missing+=(kmod)
  echo "${missing[@]:-}"
}

is_root() { [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; }
apt_updated=no
apt_update() {
  [[ $apt_updated == yes ]] && return 0
  note "apt-get update"
  apt-get update -qq >&2 || die "apt-get update failed"
  apt_updated=yes
}

install_host_packages() {
  local missing
  missing=$(missing_packages)
  [[ -z "$missing" ]] && return 0
  is_root || die "missing Debian packages: $missing (install them with: apt-get install ${host_packages[*]})"
  note "installing $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt_update
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >&2 || die "apt-get install failed for: $missing"
  missing=$(missing_packages)
  [[ -z "$missing" ]] || die "still missing after apt-get install: $missing"
}

# Download linux-image-<release> (same version as the installed headers when
# the archive has it) and unpack it into $image_root.
fetch_kernel() {
  local pkg="" cand ver want tmp deb
  for cand in "linux-image-$release" "linux-image-$release-unsigned"; do
    if [[ -n "$(apt-cache show --no-all-versions "$cand" 2>/dev/null)" ]]; then pkg=$cand; break; fi
  done
  if [[ -z "$pkg" ]] && is_root; then
    apt_update
    for cand in "linux-image-$release" "linux-image-$release-unsigned"; do
      if [[ -n "$(apt-cache show --no-all-versions "$cand" 2>/dev/null)" ]]; then pkg=$cand; break; fi
    done
  fi
  [[ -n "$pkg" ]] || die "no package linux-image-$release (or -unsigned) in the apt archive; run 'apt-get update' as root, or install linux-image-$release"
  want=$(dpkg-query -W -f='${Version}' "linux-headers-$release" 2>/dev/null || true)
  tmp="$qdir/.download.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"; chmod 755 "$tmp"
  note "downloading $pkg${want:+ (version $want if available)}"
  if ! { [[ -n "$want" ]] && (cd "$tmp" && apt-get download -qq "$pkg=$want" >&2 2>/dev/null); }; then
    (cd "$tmp" && apt-get download -qq "$pkg" >&2) || { rm -rf "$tmp"; die "apt-get download $pkg failed"; }
  fi
  local debs=("$tmp"/*.deb)
  deb=${debs[0]}
  [[ -f "$deb" ]] || { rm -rf "$tmp"; die "apt-get download $pkg produced no .deb"; }
  ver=$(dpkg-deb -f "$deb" Version)
  note "unpacking $pkg $ver into $image_root"
  mkdir -p "$tmp/root"
  dpkg-deb -x "$deb" "$tmp/root" || { rm -rf "$tmp"; die "dpkg-deb -x $deb failed"; }
  [[ -f "$tmp/root/boot/vmlinuz-$release" ]] || { rm -rf "$tmp"; die "$deb has no boot/vmlinuz-$release"; }
  # The package's postinst would run depmod; do it here for modprobe -d.
  depmod -b "$tmp/root" "$release" || { rm -rf "$tmp"; die "depmod on the unpacked $pkg failed"; }
  echo "$pkg $ver" > "$tmp/root/.complete"
  rm -rf "$image_root"
  mv "$tmp/root" "$image_root"
  rm -rf "$tmp"
}

install_host_packages
if ! locate_kernel; then
  fetch_kernel
  locate_kernel || die "kernel $release not found after unpacking"
fi
[[ -r "$vmlinuz" ]] || die "$vmlinuz is not readable (run as root, or chmod it)"
[[ -f "$kconfig" ]] || die "no kernel config $kconfig"
grep -qx 'CONFIG_LIVEPATCH=[ym]' "$kconfig" || die "$kconfig: CONFIG_LIVEPATCH is not enabled"

# --------------------------------------------------------------- initramfs
# Kernel modules the guest needs: livepatch support when it is a module
# (Debian builds it in; then nothing), plus $KLP_QEMU_KMODS.
kmods=()
grep -qx 'CONFIG_LIVEPATCH=m' "$kconfig" && kmods+=(livepatch)
read -r -a extra_kmods <<<"${KLP_QEMU_KMODS:-}"
kmods+=("${extra_kmods[@]}")
# The programs: KLP_QEMU_BINS, else guest/programs (those the host has).
if [[ -n ${KLP_QEMU_BINS+set} ]]; then
  read -r -a extra_bins <<<"$KLP_QEMU_BINS"
else
  extra_bins=()
  while read -r b; do
    [[ -z $b || $b == '#'* ]] && continue
    if command -v "$b" >/dev/null; then extra_bins+=("$b"); else note "no program '$b' on this host: the guest goes without it"; fi
  done < "$guest_dir/programs"
fi

# The guest's /init is guest/init.sh; this file tells it the kernel's kind.
init_conf() { echo "kernel_kind=$kernel_kind"; }

# Copy a host program and the shared libraries it needs (ldd) into \$1.
add_binary() {
  local stage=$1 name=$2 path lib
  path=$(command -v "$name") || die "KLP_QEMU_BINS: no program '$name' on this host"
  path=$(readlink -f "$path")
  mkdir -p "$stage/usr/bin"
  cp -L "$path" "$stage/usr/bin/$name" || die "cannot copy $path"
  # ldd prints "libx.so => /path (addr)" and "/lib64/ld-linux-x86-64.so.2 (addr)".
  while read -r lib; do
    [[ -n "$lib" && -f "$lib" ]] || continue
    mkdir -p "$stage$(dirname "$lib")"
    cp -L "$lib" "$stage$lib" || die "cannot copy $lib"
  done < <(ldd "$path" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p')
}

busybox=/bin/busybox
[[ -x $busybox ]] || die "$busybox missing (package busybox-static)"
if ldd "$busybox" >/dev/null 2>&1; then
  die "$busybox is dynamically linked; install busybox-static"
fi

# One initramfs per set of extra modules and programs (its file name), rebuilt
# when anything that goes into it changes (the key in its .key file).
variant=$(echo "kmods=${kmods[*]:-} bins=${extra_bins[*]:-}" | sha256sum | cut -c1-12)
initramfs="$qdir/initramfs-$release-$variant.cpio.gz"
initramfs_key() {
  {
    echo "release=$release kernel=$(kernel_key)"
    echo "busybox=$(stat -c '%s %Y' "$busybox")"
    echo "kmods=${kmods[*]:-} bins=${extra_bins[*]:-}"
    init_conf
    sha256sum "$self" "$guest_dir/init.sh" | cut -d' ' -f1
  } | sha256sum | cut -d' ' -f1
}

build_initramfs() {
  local key
  key=$(initramfs_key)
  if [[ -s "$initramfs" && "$(cat "$initramfs.key" 2>/dev/null)" == "$key" ]]; then
    touch "$initramfs" 2>/dev/null || true
    return 0
  fi
  local stage="$qdir/.stage.$$" m f b
  rm -rf "$stage"
  mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,root,etc,work,klp,usr/bin,usr/sbin,"lib/modules/$release"}
  cp "$busybox" "$stage/bin/busybox"
  ln -s busybox "$stage/bin/sh"
  cp "$guest_dir/init.sh" "$stage/init"
  init_conf > "$stage/etc/klp-qemu.conf"
  chmod 755 "$stage/init"
  echo "root:x:0:0:root:/root:/bin/sh" > "$stage/etc/passwd"
  echo "root:x:0:" > "$stage/etc/group"
  if [[ ${#kmods[@]} -gt 0 ]]; then
    # modprobe --show-depends prints "insmod /path/x.ko" for x and its dependencies.
    for m in "${kmods[@]}"; do
      local deps
      deps=$(modprobe -d "${kroot:-/}" -S "$release" --show-depends "$m" 2>&1) \
        || { rm -rf "$stage"; die "kernel module '$m' not found for $release: $deps"; }
      while read -r f; do
        f=${f#"${kroot}"}
        mkdir -p "$stage$(dirname "$f")"
        cp "${kroot}$f" "$stage$f"
      done < <(sed -n 's/^insmod \([^ ]*\).*/\1/p' <<<"$deps")
    done
  fi
  cp "$moddir"/modules.builtin "$moddir"/modules.order "$stage/lib/modules/$release/" 2>/dev/null || true
  [[ -f "$moddir/modules.builtin.modinfo" ]] && cp "$moddir/modules.builtin.modinfo" "$stage/lib/modules/$release/"
  depmod -b "$stage" "$release" || { rm -rf "$stage"; die "depmod in the initramfs failed"; }
  for b in "${extra_bins[@]}"; do add_binary "$stage" "$b"; done
  # gzip, padded with zeros to a multiple of 512 bytes so that a second,
  # uncompressed cpio archive can follow it (the kernel skips zero padding
  # and wants each uncompressed archive 4-byte aligned).
  (cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet | gzip -6) \
    > "$stage.cpio.gz" || { rm -rf "$stage" "$stage.cpio.gz"; die "building the initramfs failed"; }
  local size pad
  size=$(stat -c %s "$stage.cpio.gz")
  pad=$(( (512 - size % 512) % 512 ))
  head -c "$pad" /dev/zero >> "$stage.cpio.gz"
  rm -rf "$stage"
  mv "$stage.cpio.gz" "$initramfs"
  echo "$key" > "$initramfs.key"
  # Variants for other KLP_QEMU_BINS/KMODS stay until unused for a week.
  local old
  while IFS= read -r old; do rm -f "$old" "$old.key"; done \
    < <(find "$qdir" -maxdepth 1 -name 'initramfs-*.cpio.gz' -mtime +7 2>/dev/null)
  note "built $initramfs ($(stat -c %s "$initramfs") bytes)"
}
build_initramfs

if [[ $cmd == initramfs ]]; then
  echo "$initramfs"
  exit 0
fi

# -------------------------------------------------------------------- boot
# boot CMD [DIR [ROOTFS]]: boots with /klp/cmd a copy of the script file CMD,
# DIR's files in /work and ROOTFS's files on the root.
# Sets boot_tmp (payload in $boot_tmp/payload, console in $boot_tmp/console.log),
# boot_rc (the command's exit status) and returns 0, or returns 1 when the
# guest did not finish (the reason in boot_error).
boot_tmp=""
# shellcheck disable=SC2317  # called by the trap
cleanup() { [[ -n "$boot_tmp" ]] && rm -rf "$boot_tmp"; return 0; }
trap cleanup EXIT

boot() {
  local cmd_file=$1 dir=${2:-} rootfs=${3:-} qrc=0
  boot_tmp=$(mktemp -d "${TMPDIR:-/tmp}/klp-qemu.XXXXXX")
  mkdir -p "$boot_tmp/stage"
  [[ -n "$rootfs" ]] && { cp -a "$rootfs/." "$boot_tmp/stage/" || die "copying KLP_QEMU_ROOTFS ($rootfs) failed"; }
  mkdir -p "$boot_tmp/stage/klp" "$boot_tmp/stage/work"
  cp "$cmd_file" "$boot_tmp/stage/klp/cmd"
  [[ -n "$dir" ]] && cp -a "$dir/." "$boot_tmp/stage/work/"
  chmod -R u+rwX,go+rX "$boot_tmp/stage"
  cp "$initramfs" "$boot_tmp/initrd.img"
  (cd "$boot_tmp/stage" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) \
    >> "$boot_tmp/initrd.img" || die "packing the payload archive failed"
  # nokaslr: stable addresses (_text at ffffffff81000000, as in System.map).
  # panic=1 with -no-reboot: a panic ends qemu at once. loglevel=5: warnings
  # and worse reach the console (after 'quiet', which would say 4).
  local append="console=ttyS0 nokaslr panic=1 quiet loglevel=5 ${KLP_QEMU_APPEND:-}"
  timeout -k 10 "$timeout_s" qemu-system-x86_64 -accel "$accel" -m "$mem" -smp "$smp" \
    -nodefaults -no-user-config -display none -nic none -no-reboot \
    -kernel "$vmlinuz" -initrd "$boot_tmp/initrd.img" -append "$append" \
    -serial "file:$boot_tmp/console.log" -serial "file:$boot_tmp/channel.out" \
    </dev/null >"$boot_tmp/qemu.log" 2>&1 || qrc=$?
  touch "$boot_tmp/channel.out" "$boot_tmp/console.log"
  # Payload: the lines between the markers, minus the newline added before
  # the end marker.
  boot_rc=$(awk -v b="$begin_marker" -v e="$end_marker rc=" -v out="$boot_tmp/payload" '
    BEGIN { printf "" > out }
    !on && $0 == b { on = 1; next }
    on && index($0, e) == 1 { if (have) printf "%s", prev > out
                              rc = substr($0, length(e) + 1); sub(/@@.*/, "", rc); print rc; exit }
    on { if (have) print prev > out; prev = $0; have = 1 }
    END { if (on && rc == "" && have) print prev > out }
  ' "$boot_tmp/channel.out")
  if [[ $boot_rc =~ ^[0-9]+$ ]]; then return 0; fi
  case $qrc in
    124|137) boot_error="timed out after ${timeout_s}s (KLP_QEMU_TIMEOUT)" ;;
    0) boot_error="the guest stopped before the command finished (kernel panic?)" ;;
    *) boot_error="qemu failed with status $qrc" ;;
  esac
  return 1
}

# Print the evidence of a failed boot on stderr.
boot_failure() {
  {
    echo "qemu-kernel: $boot_error"
    if [[ -s "$boot_tmp/qemu.log" ]]; then echo "--- qemu output"; cat "$boot_tmp/qemu.log"; fi
    echo "--- kernel console (ttyS0), last 200 lines"
    tail -n 200 "$boot_tmp/console.log" | tr -d '\r'
    echo "---"
  } >&2
}

if [[ $cmd == kallsyms ]]; then
  if [[ -s "$kallsyms_file" && -f "$kallsyms_key_file" && "$(cat "$kallsyms_key_file")" == "$(kernel_key)" ]]; then
    echo "$kallsyms_file"; exit 0      # made by a concurrent caller while we waited
  fi
  note "booting $release under qemu to dump /proc/kallsyms"
  start=$(date +%s)
  # Compressed: the serial port is the slow part (about 100 KB/s under TCG),
  # and 3.9 MB of text shrink to 1.1 MB of base64 (gzip's CRC checks it too).
  if ! boot "$guest_dir/kallsyms.sh"; then
    boot_failure
    exit 2
  fi
  [[ $boot_rc == 0 ]] || { boot_failure; die "gzip -c /proc/kallsyms | base64 failed in the guest (status $boot_rc)"; }
  base64 -d "$boot_tmp/payload" | gzip -dc > "$boot_tmp/kallsyms" \
    || die "the kallsyms dump from the guest is corrupt (base64/gzip)"
  mv "$boot_tmp/kallsyms" "$boot_tmp/payload"
  lines=$(wc -l < "$boot_tmp/payload")
  # Sanity: the text format of /proc/kallsyms, and a kernel-sized table.
  bad=$(grep -nvE '^[0-9a-f]{16} [A-Za-z?] [^ ]+(	\[[^]]+\])?$' "$boot_tmp/payload" | head -n 3 || true)
  [[ -z "$bad" ]] || die "the dump does not look like /proc/kallsyms, e.g.: $bad"
  [[ $lines -gt 10000 ]] || die "the dump has only $lines lines"
  grep -q ' T _text$' "$boot_tmp/payload" || die "the dump has no _text (kptr_restrict?)"
  grep -q '^0000000000000000 T _text$' "$boot_tmp/payload" && die "the dump has zeroed addresses (kptr_restrict)"
  mv "$boot_tmp/payload" "$kallsyms_file.tmp"
  mv "$kallsyms_file.tmp" "$kallsyms_file"
  kernel_key > "$kallsyms_key_file"
  note "dumped $lines symbols in $(( $(date +%s) - start ))s"
  echo "$kallsyms_file"
  exit 0
fi

# run: the lock only guards setup; boots may run in parallel.
flock -u 8
if ! boot "$guest_dir/run.sh" "$run_dir" "${rootfs_dir:-}"; then
  cat "$boot_tmp/payload"          # whatever run.sh printed before the failure
  boot_failure
  exit 125
fi
cat "$boot_tmp/payload"
exit "$boot_rc"
