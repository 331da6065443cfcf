#!/usr/bin/env bash
# Installs what is missing, builds the library, and runs the demo: a Python
# program that loads liblivekit_ffi through ctypes (as the livekit-rtc SDK
# does), makes real requests, and prints what happened. Then a room: a local
# livekit-server and two participants on the upstream Python SDK, one on this
# library and one on upstream's, talking data and audio (python/room_demo.py;
# the first run installs the test bed, scripts/testbed.sh, in minutes). Then
# a quick side by side benchmark against the upstream library
# (scripts/bench.sh --quick; tables in build/bench/).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
lk_install_deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
PYTHONPATH=python LKFFI_LIB=build/liblivekit_ffi.so LKFFI_PROTO_DIR=build/python \
  /usr/bin/python3 python/demo.py

echo
room_status=0
if testbed=$(scripts/testbed.sh); then
  eval "$testbed"
  LK_TESTBED_SERVER=$LK_TESTBED_SERVER "$LK_TESTBED_PYTHON" python/room_demo.py \
    build/liblivekit_ffi.so || room_status=$?
else
  echo "room demo skipped: the test bed (livekit-server, livekit SDK) could not be installed"
fi

echo
scripts/bench.sh --quick
exit "$room_status"  # a room demo that failed still fails the command, after the bench
