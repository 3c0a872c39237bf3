#!/bin/bash
# test.sh - install dependencies, build, and run every test:
#   1. a normal build: unit tests, daemon tests and real-halrun HAL tests
#   2. an ASan+UBSan build of the same (HAL tests included: halpoke and the
#      lib run instrumented; the bridge itself is always built by halcompile)
#   3. a clang ThreadSanitizer build of the seqlock unit tests
#   4. the benchmark suite's smoke run and a short run of every fuzzer
# Every stage runs even when an earlier one failed (a failing unit test must
# not hide whether ASan, TSan or the fuzzers pass); a summary at the end
# lists each stage PASS/FAIL with its wall time, and the exit status is
# non-zero if any failed.
# HAL tests need root (they install the bridge into LinuxCNC's module
# directory); they run one at a time under a ctest resource lock.
#
# Usage: test.sh [--repeat N] [--hog] [--stages LIST] [-- CTEST_ARGS...]
#   --repeat N     run stage 1's ctest pass N times (stops at the first
#                  failing pass): the suite checked against its own flakes
#   --hog          run stage 1's ctest pass beside a busy loop on every core
#                  (plain shell loops at normal priority, killed on exit):
#                  every time bound must hold on a machine this busy
#   --stages LIST  run only these stages, e.g. --stages 1 or --stages 1,4
#                  (the others are listed as SKIP)
#   -- ARGS        extra arguments for stage 1's ctest, e.g. -- -L daemon
# Environment: HMK_BUILD_DIR (default build/), HMK_FUZZ_SECONDS (default 10).
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${HMK_BUILD_DIR:-$src/build}
jobs=$(nproc)
repeat=1 hog=0 stages=1,2,3,4 ctest_extra=()

usage() { sed -n '15,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --repeat) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; repeat=$2; shift ;;
    --hog) hog=1 ;;
    --stages) [[ ${2:-} =~ ^[1-4](,[1-4])*$ ]] || usage; stages=$2; shift ;;
    --) shift; ctest_extra=("$@"); break ;;
    *) usage ;;
    esac
    shift
done

# the hog: one busy loop per core at normal priority, started inside stage
# 1's subshell and killed when it exits, however it exits; each loop also
# ends by itself once that subshell is gone (kill -0), should it be SIGKILLed
hog_pids=()
stop_hog() { # an EXIT trap under set -e: keeps the status the subshell exits with
    local rc=$?
    if [ ${#hog_pids[@]} -gt 0 ]; then
        kill "${hog_pids[@]}" 2>/dev/null || :
        wait "${hog_pids[@]}" 2>/dev/null || :   # 143: killed, as meant
        hog_pids=()
    fi
    return $rc
}
start_hog() {
    local i me=$BASHPID
    trap stop_hog EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    for i in $(seq 1 "$jobs"); do
        ( while kill -0 "$me" 2>/dev/null; do :; done ) &
        hog_pids+=($!)
    done
    echo "==> CPU hog: $jobs busy loops (pids ${hog_pids[*]})"
}

run() { echo "==> $*"; "$@"; }

"$src/scripts/deps.sh" || { echo "test.sh: installing dependencies failed" >&2; exit 2; }

stage_default() {
    run cmake -S "$src" -B "$build/default" -DCMAKE_BUILD_TYPE=RelWithDebInfo
    run cmake --build "$build/default" -j"$jobs"
    cd "$build/default"
    [ "$hog" = 1 ] && start_hog
    local i
    for i in $(seq 1 "$repeat"); do
        [ "$repeat" -gt 1 ] && echo "==> ctest pass $i of $repeat"
        run ctest --output-on-failure --no-tests=error -j"$jobs" "${ctest_extra[@]}" ||
            { echo "ctest pass $i of $repeat failed"; return 1; }
    done
}

stage_asan() {
    run cmake -S "$src" -B "$build/asan" -DCMAKE_BUILD_TYPE=Debug -DHMK_ASAN=ON
    run cmake --build "$build/asan" -j"$jobs"
    cd "$build/asan"
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        run ctest --output-on-failure --no-tests=error -j"$jobs"
}

stage_tsan() {
    run env CC=clang cmake -S "$src" -B "$build/tsan" -DCMAKE_BUILD_TYPE=Debug -DHMK_TSAN=ON \
        -DHMK_BUILD_BRIDGE=OFF -DHMK_BUILD_DAEMON=OFF
    run cmake --build "$build/tsan" -j"$jobs"
    cd "$build/tsan"
    TSAN_OPTIONS=halt_on_error=1 run ctest --output-on-failure --no-tests=error -L seqlock
}

# the benchmark suite's 20-second smoke run (every row measured with tiny
# counts, no speed asserted; the real table: sudo bench/run.sh), then every
# fuzzer for a few seconds (longer runs: fuzz/run.sh SECONDS); both run
# whatever the other did
stage_bench_fuzz() {
    local rc=0
    run "$src/bench/run.sh" --quick --build "$build/default" --out "$build/bench-quick.md" ||
        { echo "bench smoke run failed"; rc=1; }
    if [ -x "$src/fuzz/run.sh" ]; then
        run env HMK_FUZZ_BUILD="$build/fuzz" "$src/fuzz/run.sh" "${HMK_FUZZ_SECONDS:-10}" ||
            { echo "fuzzers failed"; rc=1; }
    fi
    return $rc
}

names=("" "default build: unit, daemon, HAL tests" "ASan+UBSan build: the same"
       "TSan build: seqlock unit tests" "bench smoke run and fuzzers")
funcs=("" stage_default stage_asan stage_tsan stage_bench_fuzz)
results=() failed=0 t_all=$(date +%s)
for n in 1 2 3 4; do
    if [[ ,$stages, != *,$n,* ]]; then
        results+=("$(printf '%-4s %-5s %6s  %s' "$n" SKIP - "${names[n]}")")
        continue
    fi
    echo "==> stage $n: ${names[n]}"
    t0=$(date +%s)
    # a subshell: set -e stops the stage at its first failing step, cd and
    # the hog stay inside; the stages after it run all the same
    ( set -e; "${funcs[n]}" )
    rc=$?
    dt=$(( $(date +%s) - t0 ))
    if [ "$rc" = 0 ]; then r=PASS; else r=FAIL; failed=$((failed + 1)); fi
    results+=("$(printf '%-4s %-5s %5ds  %s' "$n" "$r" "$dt" "${names[n]}")")
    echo "==> stage $n: $r after ${dt}s"
done

extra=
[ "$repeat" -gt 1 ] && extra="$extra, stage 1 ctest x$repeat"
[ "$hog" = 1 ] && extra="$extra, stage 1 beside a CPU hog"
echo
echo "test.sh summary ($(( $(date +%s) - t_all ))s in all$extra):"
printf '  %s\n' "${results[@]}"
if [ "$failed" -gt 0 ]; then
    echo "test.sh: $failed stage(s) failed"
    exit 1
fi
echo "test.sh: all test suites passed"
