#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. the unit and integration suites (cmocka + pytest, via ctest);
#   2. the same under AddressSanitizer + UBSan, and the C suites under TSan;
#   3. valgrind memcheck over the C integration suites (no definite or
#      indirect leaks, no errors).
# Build trees: build/, build-asan/, build-tsan/. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
lk_install_deps

jobs=$(nproc)
export LIVEKIT_FFI_LOG=${LIVEKIT_FFI_LOG:-off} # tests provoke errors on purpose
stage() { printf '\n=== %s (%ds)\n' "$*" "$SECONDS"; }

configure() { # dir, extra cmake args…
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
}

stage "build and test"
configure build
ctest --test-dir build -j"$jobs" --output-on-failure

stage "AddressSanitizer + UBSan"
configure build-asan -DLK_SANITIZE=address -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -j"$jobs" --output-on-failure

stage "ThreadSanitizer"
configure build-tsan -DLK_SANITIZE=thread -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
TSAN_OPTIONS=halt_on_error=1:die_after_fork=0 \
  ctest --test-dir build-tsan -j"$jobs" --output-on-failure

stage "valgrind memcheck"
for t in build/tests/test_io_* build/tests/test_ffi_*; do
  echo "--- $t"
  valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect --trace-children=no --child-silent-after-fork=yes "$t" >/dev/null
done

stage "all passed"
