#!/bin/sh
# fuzz/run.sh [SECONDS] - build the libFuzzer fuzzers with clang and run each
# for SECONDS (default 10) on a copy of its seed corpus (fuzz/corpus/NAME),
# with the dictionary fuzz/NAME.dict where there is one.
#
# Prints one line per fuzzer (execs, coverage, crashes) and exits non-zero
# if any fuzzer found a crash, leak, timeout or out-of-memory; the input is
# kept under build/fuzz/artifacts/NAME/ until the next run (add it to
# fuzz/corpus/NAME/ as a regression seed once fixed). CI runs it with 10 s;
# the soak runs longer.
#
# Environment: HMK_FUZZERS="pinspec value ..." to run a subset;
# HMK_FUZZ_CC (default clang; $CC is ignored, CI may set it to gcc for the
# main build); HMK_FUZZ_BUILD (default build/fuzz under the source tree).
set -u

secs=${1:-10}
case $secs in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
src=$(cd "$(dirname "$0")/.." && pwd)
build=${HMK_FUZZ_BUILD:-$src/build/fuzz}
fuzzers=${HMK_FUZZERS:-pinspec value region cfg ctl stats}
cc=${HMK_FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: $cc not found (install clang and libclang-rt-dev)" >&2
    exit 1
fi

# Only the fuzzers are built: no halcompile, daemon or tests needed.
mkdir -p "$build" || exit 1
if ! cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="$cc" -DHMK_FUZZ=ON \
        -DHMK_BUILD_BRIDGE=OFF -DHMK_BUILD_DAEMON=OFF -DBUILD_TESTING=OFF \
        >"$build/configure.log" 2>&1; then
    cat "$build/configure.log" >&2
    echo "fuzz: configure failed" >&2
    exit 1
fi
if ! cmake --build "$build" --target fuzzers -j "$(nproc)" >"$build/build.log" 2>&1; then
    cat "$build/build.log" >&2
    echo "fuzz: build failed" >&2
    exit 1
fi

failed=0
printf '%-8s %10s %8s %8s  %s\n' fuzzer execs cov corpus result
for f in $fuzzers; do
    exe=$build/fuzz/fuzz_$f
    work=$build/work/$f
    art=$build/artifacts/$f
    rm -rf "$work" "$art"
    mkdir -p "$work/corpus" "$art"
    cp "$src/fuzz/corpus/$f/"* "$work/corpus/" 2>/dev/null
    dict=
    [ -f "$src/fuzz/$f.dict" ] && dict=-dict=$src/fuzz/$f.dict
    # -timeout: no input may take 25 s (an input takes milliseconds; a hang
    # takes forever: the margin is for a loaded machine), nor be reported
    # slow before that; -rss_limit_mb stays at 2 GiB
    "$exe" -max_total_time="$secs" -timeout=25 -report_slow_units=25 -print_final_stats=1 $dict \
        -artifact_prefix="$art/" "$work/corpus" >"$work/log" 2>&1 &
    pid=$!
    wait $pid
    rc=$?
    # fuzz_region's objects carry its pid; remove them even if it died
    rm -f "/dev/shm/hmk-fuzz-$pid" "/dev/shm/hmk-fuzz-$pid.stream"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -n 1 | cut -d' ' -f2)
    corp=$(ls "$work/corpus" | wc -l)
    found=$(ls "$art" | grep -cE '^(crash|leak|timeout|oom|slow-unit)-' || true)
    if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
        result="FAILED (exit $rc, $found artifact(s) in $art; log $work/log)"
        failed=1
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$work/log" | head -n 5 >&2
    else
        result="ok, 0 crashes"
    fi
    printf '%-8s %10s %8s %8s  %s\n' "$f" "${execs:-?}" "${cov:-?}" "$corp" "$result"
done
exit $failed
