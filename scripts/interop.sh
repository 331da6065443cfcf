#!/usr/bin/env bash
# Builds the library and runs the interop matrix (tests/interop/matrix.py):
# this library, upstream's and a browser, each pair in a local room. Writes
# interop.md, interop.json and interop.png to the output directory; the
# copies in docs/ come from this command.
#
#   scripts/interop.sh [--out DIR]     (default DIR: docs)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
lk_install_deps

out=docs
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift ;;
    *) echo "usage: $0 [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
tests/interop/run.sh "$PWD/build/liblivekit_ffi.so" "$out"
