#!/usr/bin/env bash
# Installs what is missing, builds, fetches the upstream library (npm), and
# runs bench/ffi_bench on ours and upstream side by side, and ours once more
# on its epoll backend (the fallback where io_uring is denied). Writes bench.md,
# bench.json and bench.png to the output directory.
#
#   scripts/bench.sh [--quick] [--out DIR]     (default DIR: build/bench)
#
# Without npm or network, it benchmarks this library alone and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
lk_install_deps

quick=""
out=build/bench
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=--quick ;;
    --out) out=$2; shift ;;
    *) echo "usage: $0 [--quick] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
libs=("ours=$PWD/build/liblivekit_ffi.so")
preload=()
if paths=$(bench/upstream/fetch.sh); then
  stub=$(sed -n 1p <<<"$paths")
  upstream=$(sed -n 2p <<<"$paths")
  libs+=("upstream=$upstream")
  preload=(--preload "$stub")
else
  echo "bench.sh: upstream library unavailable; measuring ours alone" >&2
fi
# Ours again on the epoll backend: a copy, since dlopen of the same file
# returns the library already loaded.
cp build/liblivekit_ffi.so "$tmp/liblivekit_ffi_epoll.so"
libs+=(--io epoll "ours-epoll=$tmp/liblivekit_ffi_epoll.so")
mkdir -p "$out"
raw=$tmp/raw.json
build/bench/ffi_bench $quick "${preload[@]}" "${libs[@]}" >"$raw"
/usr/bin/python3 bench/report.py "$raw" "$out"
