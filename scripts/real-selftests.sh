#!/usr/bin/env bash
# The kernel's own livepatch selftests of 6.1 (tools/testing/selftests/livepatch),
# unmodified, on the real kernel: Debian's linux-image-<release> booted under
# qemu by scripts/qemu-kernel.sh.
#
# Usage: real-selftests.sh [SCRIPT...]
#   SCRIPT   selftest scripts to run, in order (default: TEST_PROGS of the
#            corpus's selftests Makefile: test-livepatch.sh test-callbacks.sh
#            test-shadow-vars.sh test-state.sh test-ftrace.sh test-sysfs.sh)
#
# Prints one JSON object on stdout:
#   { "release": "6.1.0-56-amd64", "durationMs": <whole run, host wall clock>,
#     "bootMs": <the qemu run>, "modulesCache": "hit"|"built",
#     "modulesDir": "<the cached directory holding the test modules the guest loaded>",
#     "scriptTimeoutS": <the per-script limit in the guest>,
#     "scripts": [ { "script": "test-callbacks.sh", "exit": 0, "timedOut": false,
#                    "durationMs": <in the guest>,
#                    "tests": [ { "name": "...", "ok": true, "log": [...] } ],
#                    "output": "<the script's stdout+stderr>" } ],
#     "kallsyms": { "sha256": <of the "type name" lines of /proc/kallsyms at boot>, "lines": <count> },
#     "dmesg": "<the kernel log of the whole run, util-linux dmesg format>" }
# "log" is the test's kernel-log transcript filtered the way check_result()
# of functions.sh filters it (lines with 'livepatch:' or 'test_klp', minus
# taint notices, timestamps removed), taken from the "===== TEST: name ====="
# line that start_test() logs up to the next test's (or the script's end).
# "exit" is the script's exit status (4 = kselftest SKIP, 124 = timed out in
# the guest), null when the guest did not report one.
#
# Steps:
#   1. scripts/kernel-env.sh: headers (KLP_KDIR), release, corpus.
#   2. The lib/livepatch test modules of the corpus, copied to a temporary
#      directory and built with their own Makefile (CONFIG_TEST_LIVEPATCH=m)
#      against KLP_KDIR; staged as <root>/lib/modules/<release>/kernel/lib/
#      livepatch/*.ko with depmod's modules.* indexes (depmod -b <root>).
#      Cached in <cache>/real-selftests/modules-<key>/, the key hashing the
#      headers (package version, Module.symvers, .config), gcc's version, the
#      module sources and Makefile, and this script.
#   3. A run directory with the selftest scripts copied byte for byte
#      (functions.sh, settings and the SCRIPTs), scripts/guest/real-selftests.sh
#      as its run.sh (runs each SCRIPT with bash under a per-script timeout,
#      between marker lines on the output and in the kernel log) and the list
#      of SCRIPTs and the timeout as files.
#   4. One boot: qemu-kernel.sh run, with KLP_QEMU_ROOTFS=<the staged root>
#      (modules, indexes, /bin/stat -> GNU stat: check_sysfs_rights() calls
#      /bin/stat --format, which busybox's stat lacks), the initramfs's
#      programs of packages/nx/scripts/guest/programs, log_buf_len=8M (the
#      whole run's kernel log must fit for the final dmesg).
#   5. The host turns qemu-kernel.sh's output into the JSON above
#      (scripts/real-selftests-report.mjs).
#
# Environment:
#   KLP_REAL_SELFTESTS_TIMEOUT         hard limit of the qemu run in seconds
#                                      (default 900; passed as KLP_QEMU_TIMEOUT)
#   KLP_REAL_SELFTESTS_SCRIPT_TIMEOUT  limit per selftest script inside the
#                                      guest (default 420)
#   KLP_REAL_SELFTESTS_KEEP=<dir>      also keep the raw qemu-kernel.sh output
#                                      (qemu.out, qemu.err) and the run dir there
#   plus those of qemu-kernel.sh (KLP_SPLIT_CACHE, KLP_QEMU_MEM, ...).
# Exit status: 0 every script exited 0 and every test is ok; 1 some selftest
# failed or was skipped (the JSON tells which); 2 setup problem (headers,
# module build, qemu setup); 125 the guest did not finish (timeout, panic):
# the evidence goes to stderr and no JSON is printed.
set -euo pipefail -o errtrace
trap 'rc=$?; echo "real-selftests: line $LINENO: $BASH_COMMAND failed (status $rc)" >&2' ERR

t_start=$(date +%s%3N)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
export PATH="$PATH:/usr/sbin:/sbin"

die() { echo "real-selftests: $*" >&2; exit 2; }
note() { echo "real-selftests: $*" >&2; }

case "${1:-}" in
  -h|--help) sed -n '2,8p' "$self" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) die "unknown option '$1' (usage: $0 [SCRIPT...])" ;;
esac

qemu_timeout=${KLP_REAL_SELFTESTS_TIMEOUT:-900}
script_timeout=${KLP_REAL_SELFTESTS_SCRIPT_TIMEOUT:-420}
[[ $qemu_timeout =~ ^[0-9]+$ ]] || die "KLP_REAL_SELFTESTS_TIMEOUT must be a number of seconds, got '$qemu_timeout'"
[[ $script_timeout =~ ^[0-9]+$ ]] || die "KLP_REAL_SELFTESTS_SCRIPT_TIMEOUT must be a number of seconds, got '$script_timeout'"
command -v node >/dev/null || die "node is needed to write the JSON report"

# ------------------------------------------------------------ environment
env_json=$(bash "$here/kernel-env.sh" --json) || exit 2
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$env_json"; }
kdir=$(json_field KLP_KDIR)
release=$(json_field KLP_KERNEL_RELEASE)
corpus=$(json_field KLP_CORPUS)
cache=$(json_field KLP_CACHE)
[[ -n "$kdir" && -n "$release" && -n "$corpus" && -n "$cache" ]] || die "cannot read kernel-env.sh's output: $env_json"
src_dir="$corpus/lib/livepatch"
st_dir="$corpus/tools/testing/selftests/livepatch"
[[ -f "$src_dir/Makefile" ]] || die "no $src_dir/Makefile in the corpus"
[[ -f "$st_dir/functions.sh" && -f "$st_dir/Makefile" ]] || die "no selftests in $st_dir"

# The scripts: arguments, else TEST_PROGS of the selftests Makefile.
if [[ $# -gt 0 ]]; then
  scripts=("$@")
else
  mapfile -t scripts < <(sed -n '/^TEST_PROGS :=/,/^$/p' "$st_dir/Makefile" | grep -o 'test-[A-Za-z0-9_-]*\.sh')
  [[ ${#scripts[@]} -gt 0 ]] || die "no TEST_PROGS in $st_dir/Makefile"
fi
for s in "${scripts[@]}"; do
  [[ $s =~ ^[A-Za-z0-9_.-]+\.sh$ && $s != functions.sh ]] || die "not a selftest script name: '$s'"
  [[ -f "$st_dir/$s" ]] || die "no selftest $st_dir/$s"
done

# Programs the guest needs beyond busybox: qemu-kernel.sh's one list
# (packages/nx/scripts/guest/programs) has what functions.sh and the scripts
# call (bash, kmod's tools, GNU comm/diff/mktemp/sysctl/dmesg/stat/timeout...).

# ---------------------------------------------- qemu setup, kernel modules dir
# 'initramfs' installs qemu etc., fetches the kernel and builds the initramfs
# variant for our programs once; the later 'run' then only boots.
bash "$here/qemu-kernel.sh" initramfs >/dev/null \
  || die "scripts/qemu-kernel.sh initramfs failed (see above)"
kmoddir=""
for d in "/lib/modules/$release" "$cache/qemu/linux-image-$release/lib/modules/$release"; do
  [[ -f "$d/modules.builtin" ]] && { kmoddir=$d; break; }
done
[[ -n "$kmoddir" ]] || die "no modules.builtin of $release in /lib/modules or $cache/qemu/linux-image-$release"

# ------------------------------------------------------- test modules (cached)
mcache="$cache/real-selftests"
mkdir -p "$mcache" || die "cannot create $mcache"
modules_key() {
  {
    echo "release=$release kdir=$kdir"
    dpkg-query -W -f='${Version}\n' "linux-headers-$release" 2>/dev/null || echo "no-dpkg"
    sha256sum "$kdir/Module.symvers" "$kdir/.config" "$kmoddir/modules.builtin" | cut -d' ' -f1
    gcc --version | head -n 1
    (cd "$src_dir" && sha256sum Makefile ./*.c)
    sha256sum "$self" | cut -d' ' -f1
  } | sha256sum | cut -c1-16
}
key=$(modules_key)
# <cache>/real-selftests/modules-<key>/root is the guest's root overlay;
# modules-<key>/complete (the module names) marks a finished tree.
root="$mcache/modules-$key/root"
modules_cache=hit
exec 7>"$mcache/.lock" || die "cannot open $mcache/.lock"
flock 7 || die "cannot lock $mcache/.lock"
if [[ ! -f "$mcache/modules-$key/complete" ]]; then
  modules_cache=built
  note "building the lib/livepatch test modules against $kdir"
  build=$(mktemp -d "$mcache/.build.XXXXXX")
  trap 'rm -rf "$build"' EXIT
  cp "$src_dir/Makefile" "$src_dir"/*.c "$build/"
  if ! make -C "$kdir" M="$build" CONFIG_TEST_LIVEPATCH=m -j"$(nproc)" modules >"$build/make.log" 2>&1; then
    tail -n 40 "$build/make.log" >&2
    rm -rf "$build"
    die "building the test modules failed: make -C $kdir M=<copy of $src_dir> CONFIG_TEST_LIVEPATCH=m modules (last lines above)"
  fi
  # Every object of the Makefile must have become a module.
  mapfile -t objs < <(grep -o 'test_klp_[a-z0-9_]*\.o' "$src_dir/Makefile" | sed 's/\.o$//')
  [[ ${#objs[@]} -gt 0 ]] || { rm -rf "$build"; die "no test_klp_*.o objects in $src_dir/Makefile"; }
  stage="$build/root"
  moddest="$stage/lib/modules/$release/kernel/lib/livepatch"
  mkdir -p "$moddest" "$stage/bin"
  for m in "${objs[@]}"; do
    [[ -f "$build/$m.ko" ]] || { rm -rf "$build"; die "make succeeded but built no $m.ko"; }
    cp "$build/$m.ko" "$moddest/"
  done
  # depmod needs the builtin list for modules.builtin.bin; the files replace
  # the base initramfs's copies (same content) and its depmod indexes.
  # modules.order: ours (the guest has no other loadable modules).
  cp "$kmoddir/modules.builtin" "$stage/lib/modules/$release/"
  printf 'kernel/lib/livepatch/%s.ko\n' "${objs[@]}" > "$stage/lib/modules/$release/modules.order"
  [[ -f "$kmoddir/modules.builtin.modinfo" ]] && cp "$kmoddir/modules.builtin.modinfo" "$stage/lib/modules/$release/"
  depmod -b "$stage" "$release" || { rm -rf "$build"; die "depmod -b $stage $release failed"; }
  for m in "${objs[@]}"; do
    grep -q "^kernel/lib/livepatch/$m.ko:" "$stage/lib/modules/$release/modules.dep" \
      || { rm -rf "$build"; die "depmod's modules.dep lacks $m"; }
  done
  # check_sysfs_rights() runs /bin/stat --format; busybox's stat has no
  # --format. The guest's /init skips existing links when it installs busybox.
  ln -s /usr/bin/stat "$stage/bin/stat"
  rm -rf "$mcache/modules-$key"
  mkdir -p "$mcache/modules-$key"
  mv "$stage" "$root"
  printf '%s\n' "${objs[@]}" > "$mcache/modules-$key/complete"
  rm -rf "$build"
  # Trees of other keys (older headers or sources) are dropped.
  find "$mcache" -mindepth 1 -maxdepth 1 -name 'modules-*' ! -name "modules-$key" -exec rm -rf {} +
fi
flock -u 7

# ---------------------------------------------------------------- run dir
run=$(mktemp -d "${TMPDIR:-/tmp}/klp-real-selftests.XXXXXX")
cleanup() { rm -rf "$run"; }
trap cleanup EXIT
wd="$run/work"
mkdir -p "$wd"
for f in functions.sh settings "${scripts[@]}"; do
  [[ -f "$st_dir/$f" ]] || continue
  cp "$st_dir/$f" "$wd/$f"
  cmp -s "$st_dir/$f" "$wd/$f" || die "copy of $f differs from $st_dir/$f"
done

# run.sh (scripts/guest/real-selftests.sh) runs under busybox sh as root in
# /work; the scripts to run and their limit reach it as files.
cp "$here/guest/real-selftests.sh" "$wd/run.sh"
printf '%s\n' "${scripts[@]}" > "$wd/selftests.list"
echo "$script_timeout" > "$wd/selftests.timeout"

# ------------------------------------------------------------------- boot
note "running ${scripts[*]} on $release under qemu (limit ${qemu_timeout}s)"
t_boot=$(date +%s%3N)
qrc=0
KLP_QEMU_ROOTFS=$root KLP_QEMU_TIMEOUT=$qemu_timeout \
  KLP_QEMU_APPEND="log_buf_len=8M ${KLP_QEMU_APPEND:-}" \
  bash "$here/qemu-kernel.sh" run "$wd" >"$run/qemu.out" 2>"$run/qemu.err" || qrc=$?
t_end=$(date +%s%3N)
if [[ -n ${KLP_REAL_SELFTESTS_KEEP:-} ]]; then
  mkdir -p "$KLP_REAL_SELFTESTS_KEEP" && cp -r "$run/." "$KLP_REAL_SELFTESTS_KEEP/"
fi
case $qrc in
  0|1) ;;
  125)
    {
      echo "real-selftests: the guest did not finish (qemu-kernel.sh status 125); its output so far:"
      cat "$run/qemu.out"
      cat "$run/qemu.err"
    } >&2
    exit 125 ;;
  *)
    cat "$run/qemu.err" >&2
    if grep -q '^### klp-selftests: end ' "$run/qemu.out"; then
      die "run.sh exited with unexpected status $qrc (output in qemu.out, see KLP_REAL_SELFTESTS_KEEP)"
    fi
    die "qemu-kernel.sh run failed with status $qrc (see above)" ;;
esac
grep -q '^### klp-qemu: dmesg$' "$run/qemu.out" || die "no kernel log in qemu-kernel.sh's output"

# ----------------------------------------------------------------- report
# The JSON report; exit 0 when every script exited 0 with every test ok.
RELEASE=$release SCRIPT_TIMEOUT=$script_timeout DURATION=$((t_end - t_start)) BOOT=$((t_end - t_boot)) CACHE=$modules_cache MODDIR="$root/lib/modules/$release/kernel/lib/livepatch" \
SCRIPTS="${scripts[*]}" node "$here/real-selftests-report.mjs" "$run/qemu.out" || exit $?
