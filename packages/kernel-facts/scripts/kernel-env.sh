#!/usr/bin/env bash
# Kernel environment for klp-split: Debian's 6.1 headers and the livepatch
# corpus from Debian's linux-source-6.1, installed on demand and cached.
#
# Prints KEY=VALUE lines (or one JSON object with --json):
#   KLP_KDIR            kernel headers tree to build against (has Module.symvers)
#   KLP_KERNEL_RELEASE  its release string, e.g. 6.1.0-56-amd64
#   KLP_CORPUS          root of the extracted corpus (samples/livepatch, lib/livepatch, ...)
#   KLP_CACHE           the cache directory
# Exit status 2 with one message when something cannot be installed here.
# --no-install only reports what is already there (exit 2 when it is not).
set -euo pipefail -o errtrace
trap 'rc=$?; echo "kernel-env: line $LINENO: $BASH_COMMAND failed (status $rc)" >&2' ERR

# The cache directory contract of packages/core/src/contracts/cache-dir.ts, in shell.
if [[ -z "${KLP_SPLIT_CACHE:-}" && -z "${XDG_CACHE_HOME:-}" && -z "${HOME:-}" ]]; then
  echo "kernel-env.sh: HOME is not set, so there is no cache directory; set HOME, XDG_CACHE_HOME or KLP_SPLIT_CACHE" >&2
  exit 2
fi
cache="${KLP_SPLIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/klp-split}"
format=env
install=yes
for arg in "$@"; do
  case "$arg" in
    --json) format=json ;;
    --no-install) install=no ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "kernel-env: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

# Paths the corpus needs from the source tarball; everything else stays packed.
corpus_paths=(
  samples/livepatch lib/livepatch tools/testing/selftests/livepatch
  Documentation/livepatch scripts/checkpatch.pl scripts/spelling.txt
  scripts/const_structs.checkpatch
)
packages=(linux-headers-amd64 linux-source-6.1 make gcc xz-utils kmod binutils)

die() { echo "kernel-env: $*" >&2; exit 2; }

find_headers() {
  local d
  for d in /usr/src/linux-headers-6.1.*-amd64; do
    [[ -f "$d/Makefile" && -f "$d/Module.symvers" ]] && { echo "$d"; return 0; }
  done
  return 1
}

missing_packages() {
  local missing=()
  find_headers >/dev/null || missing+=(linux-headers-amd64)
  [[ -f /usr/src/linux-source-6.1.tar.xz ]] || missing+=(linux-source-6.1)
  command -v make >/dev/null || missing+=(make)
  command -v xz >/dev/null || missing+=(xz-utils)
  command -v modinfo >/dev/null || missing+=(kmod)
  command -v readelf >/dev/null || missing+=(binutils)
  echo "${missing[@]:-}"
}

install_packages() {
  local missing
  missing=$(missing_packages)
  [[ -z "$missing" ]] && return 0
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    die "missing Debian packages: $missing (install them with: apt-get install ${packages[*]})"
  fi
  echo "kernel-env: installing $missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed; install by hand: ${packages[*]}"
  # shellcheck disable=SC2086
  apt-get install -y -qq $missing >&2 || die "apt-get install failed for: $missing"
}

extract_corpus() {
  local tarball=/usr/src/linux-source-6.1.tar.xz root="$cache/linux-source-6.1"
  local stamp="$cache/corpus.stamp" want
  want="$(stat -c '%s %Y' "$tarball") ${corpus_paths[*]}"
  [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -d "$root" ]] && return 0
  echo "kernel-env: extracting the livepatch corpus from $tarball" >&2
  local tmp="$cache/.extract.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  tar -xJf "$tarball" -C "$tmp" "${corpus_paths[@]/#/linux-source-6.1/}" \
    || die "could not extract the corpus from $tarball"
  rm -rf "$root"; mv "$tmp/linux-source-6.1" "$root"; rm -rf "$tmp"
  echo "$want" > "$stamp"
}

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [[ $install == yes ]]; then
  install_packages
  kdir=$(find_headers) || die "no /usr/src/linux-headers-6.1.*-amd64 with Module.symvers after install"
  extract_corpus
else
  kdir=$(find_headers) || die "no /usr/src/linux-headers-6.1.*-amd64 installed"
fi
release=${kdir#/usr/src/linux-headers-}

if [[ $format == json ]]; then
  printf '{"KLP_KDIR":"%s","KLP_KERNEL_RELEASE":"%s","KLP_CORPUS":"%s","KLP_CACHE":"%s"}\n' \
    "$kdir" "$release" "$cache/linux-source-6.1" "$cache"
else
  printf 'KLP_KDIR=%s\nKLP_KERNEL_RELEASE=%s\nKLP_CORPUS=%s\nKLP_CACHE=%s\n' \
    "$kdir" "$release" "$cache/linux-source-6.1" "$cache"
fi
