#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. the unit and integration suites (cmocka + pytest, via ctest), and the
#      differential conformance suite against the upstream library (skipped,
#      with the reason, when npm cannot fetch it); then all of it again on
#      the epoll backend (LIVEKIT_FFI_IO=epoll), and twice more in a process
#      where a seccomp filter denies io_uring (EPERM as Docker does, then
#      ENOSYS as a kernel without it), the backend chosen automatically;
#   2. the same under AddressSanitizer + UBSan, and the C suites under TSan,
#      the io/ suites on both backends;
#   3. valgrind memcheck over the C integration suites (no definite or
#      indirect leaks, no errors), the io/ suites on both backends;
#   4. every libFuzzer harness (tests/fuzz/fuzz_*.c): its saved regression
#      inputs, then 45 s of fuzzing each (the request harness from a seed
#      corpus of every served request).
# The room suites run against a real livekit-server and the upstream SDK,
# which scripts/testbed.sh installs into a cache outside the repository; the
# interop matrix adds a browser (Chromium and livekit-client, installed by
# scripts/browser.sh the same way).
# Build trees: build/, build-asan/, build-tsan/, build-fuzz/. Exits non-zero
# on any failure.
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
grep -h "^conformance skipped" build/Testing/Temporary/LastTest.log || true

stage "build and test on the epoll backend"
LIVEKIT_FFI_IO=epoll ctest --test-dir build -j"$jobs" --output-on-failure

# As in a container: io_uring denied by seccomp, the backend chosen alone.
# The video loss test runs the epoll backend as the pass above does: not
# again here (two minutes each).
for denial in EPERM ENOSYS; do
  stage "build and test where io_uring is denied ($denial)"
  LK_SKIP_VIDEO_LOSS=1 build/tests/without_io_uring $denial ctest --test-dir build -j"$jobs" \
    --output-on-failure
done

stage "AddressSanitizer + UBSan"
configure build-asan -DLK_SANITIZE=address -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -j"$jobs" --output-on-failure
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LIVEKIT_FFI_IO=epoll ctest --test-dir build-asan -j"$jobs" --output-on-failure -R '^test_io_'

stage "ThreadSanitizer"
configure build-tsan -DLK_SANITIZE=thread -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
TSAN_OPTIONS=halt_on_error=1:die_after_fork=0 \
  ctest --test-dir build-tsan -j"$jobs" --output-on-failure
TSAN_OPTIONS=halt_on_error=1:die_after_fork=0 \
  LIVEKIT_FFI_IO=epoll ctest --test-dir build-tsan -j"$jobs" --output-on-failure -R '^test_io_'

stage "valgrind memcheck"
# --fair-sched: valgrind runs one thread at a time, and its default lock lets
# a worker that enters the kernel every round take it straight back, starving
# the test's own thread (seen as a spurious failure of the busy-inbox test).
# test_media_h264_decoder is left to the sanitizers: under memcheck it
# spends five minutes inside libx264 and libavcodec; our side of it (the
# decoder's new, decode and free) runs here in test_media_h264_receiver.
for t in build/tests/test_io_* build/tests/test_ffi_* build/tests/test_net_* build/tests/test_rtc_* build/tests/test_media_* \
  build/tests/test_room_rpc build/tests/test_room_session build/tests/test_room_stream \
  build/tests/test_room_video_layers; do
  [ "${t##*/}" = test_media_h264_decoder ] && continue
  echo "--- $t"
  LK_STRESS_SECONDS=3 valgrind --quiet --fair-sched=yes --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    --trace-children=no --child-silent-after-fork=yes "$t" >/dev/null
done
for t in build/tests/test_io_*; do
  echo "--- $t (epoll)"
  LIVEKIT_FFI_IO=epoll valgrind --quiet --fair-sched=yes --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    --trace-children=no --child-silent-after-fork=yes "$t" >/dev/null
done

stage "fuzzing"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLK_SANITIZE=address -DLK_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-fuzz -j"$jobs"
rm -rf build-fuzz/corpus
PYTHONPATH=python LKFFI_PROTO_DIR=build-fuzz/python /usr/bin/python3 tests/fuzz/seeds.py build-fuzz/corpus/request
# Every harness: its saved regressions (tests/fuzz/regressions/<name>/), then
# LK_FUZZ_SECONDS of fuzzing. The whole report on a finding (the input is
# saved in build-fuzz/), the stats otherwise. Memory: ASan's quarantine of
# freed blocks (256 MB and 1 MB per thread by default) is what grew a fast
# harness to 500-860 MB within its minute; at 64 MB and 64 kB (still far
# more than one input frees) each stays under 250 MB, and 1 GB is then a
# finding (growth, or one allocation that large), not a number to read.
export ASAN_OPTIONS=quarantine_size_mb=64:thread_local_quarantine_size_kb=64
for f in build-fuzz/tests/fuzz_*; do
  name=${f##*/fuzz_}
  mkdir -p "build-fuzz/corpus/$name"
  if [ -d "tests/fuzz/seeds/$name" ]; then cp tests/fuzz/seeds/"$name"/* "build-fuzz/corpus/$name/"; fi
  regressions=(tests/fuzz/regressions/"$name"/*)
  if [ -e "${regressions[0]}" ] &&
    ! "$f" -timeout=10 "${regressions[@]}" >"build-fuzz/$name-regressions.log" 2>&1; then
    echo "fuzz_$name: a saved regression input fails again:"
    grep -v '^INFO' "build-fuzz/$name-regressions.log" | head -n 80
    exit 1
  fi
  if ! "$f" -max_total_time="${LK_FUZZ_SECONDS:-45}" -timeout=10 -rss_limit_mb=1024 \
    -artifact_prefix="build-fuzz/$name-" -print_final_stats=1 "build-fuzz/corpus/$name" \
    >"build-fuzz/$name.log" 2>&1; then
    echo "fuzz_$name found something:"
    grep -v '^INFO' "build-fuzz/$name.log" | head -n 80
    exit 1
  fi
  echo "fuzz_$name: $(grep -m1 -o 'Done [0-9]* runs in [0-9]* second(s)' "build-fuzz/$name.log")," \
    "peak RSS $(grep -m1 -o 'peak_rss_mb: *[0-9]*' "build-fuzz/$name.log" | grep -o '[0-9]*$') MB"
done

stage "all passed"
