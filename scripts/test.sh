#!/bin/bash
# test.sh - install dependencies, build, and run every test:
#   1. a normal build: unit tests, daemon tests and real-halrun HAL tests
#   2. an ASan+UBSan build of the same (HAL tests included: halpoke and the
#      lib run instrumented; the bridge itself is always built by halcompile)
#   3. a clang ThreadSanitizer build of the seqlock unit tests
#   4. the benchmark suite's smoke run and a short run of every fuzzer
# HAL tests need root (they install the bridge into LinuxCNC's module
# directory); they run one at a time under a ctest resource lock.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${HMK_BUILD_DIR:-$src/build}
jobs=$(nproc)
"$src/scripts/deps.sh"

run() { echo "==> $*"; "$@"; }

run cmake -S "$src" -B "$build/default" -DCMAKE_BUILD_TYPE=RelWithDebInfo
run cmake --build "$build/default" -j"$jobs"
(cd "$build/default" && run ctest --output-on-failure --no-tests=error -j"$jobs")

run cmake -S "$src" -B "$build/asan" -DCMAKE_BUILD_TYPE=Debug -DHMK_ASAN=ON
run cmake --build "$build/asan" -j"$jobs"
(cd "$build/asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run ctest --output-on-failure --no-tests=error -j"$jobs")

run env CC=clang cmake -S "$src" -B "$build/tsan" -DCMAKE_BUILD_TYPE=Debug -DHMK_TSAN=ON \
    -DHMK_BUILD_BRIDGE=OFF -DHMK_BUILD_DAEMON=OFF
run cmake --build "$build/tsan" -j"$jobs"
(cd "$build/tsan" && TSAN_OPTIONS=halt_on_error=1 run ctest --output-on-failure --no-tests=error -L seqlock)
# the benchmark suite's 20-second smoke run: every row measured with tiny
# counts, no speed asserted (the real table: sudo bench/run.sh)
run "$src/bench/run.sh" --quick --build "$build/default" --out "$build/bench-quick.md"

# every fuzzer for a few seconds (longer runs: fuzz/run.sh SECONDS)
if [ -x "$src/fuzz/run.sh" ]; then
    run env HMK_FUZZ_BUILD="$build/fuzz" "$src/fuzz/run.sh" "${HMK_FUZZ_SECONDS:-10}"
fi
echo "test.sh: all test suites passed"
