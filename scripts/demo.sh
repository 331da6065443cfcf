#!/usr/bin/env bash
# Installs what is missing, builds the library, and runs the demo: a Python
# program that loads liblivekit_ffi through ctypes (as the livekit-rtc SDK
# does), makes real requests, and prints what happened. Then a quick side by
# side benchmark against the upstream library (scripts/bench.sh --quick;
# tables in build/bench/).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
lk_install_deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
PYTHONPATH=python LKFFI_LIB=build/liblivekit_ffi.so LKFFI_PROTO_DIR=build/python \
  /usr/bin/python3 python/demo.py

echo
scripts/bench.sh --quick
