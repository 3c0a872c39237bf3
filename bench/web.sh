#!/bin/bash
# bench/web.sh - halweb (services/web): change -> browser latency and the
# service's CPU per connected browser, against a fake region with a change
# stream (tests/web/web-region.c; no HAL needed), in Debian's headless
# chromium (puppeteer-core from tests/web/package.json).
#   bench/web.sh [--quick] [--build DIR]
# Prints a markdown table. The peer is a page polling /api/pins every
# 500 ms, the way dashboards built on `halcmd show pin` polling work.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
quick=0
build=$src/build
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --build) build=${2:?--build needs a directory}; shift ;;
    *) echo "bench/web.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done
case $build in /*) ;; *) build=$PWD/$build ;; esac
WEB=$build/services/halweb RT=$build/hmk-web-region
[ -x "$WEB" ] && [ -x "$RT" ] || { echo "bench/web.sh: build halweb and hmk-web-region in $build first" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "bench/web.sh: needs /usr/bin/chromium (scripts/deps.sh)" >&2; exit 1; }
(cd "$src/tests/web" && npm ci --no-audit --no-fund --silent)

if [ $quick = 1 ]; then LAT_S=6 CPU_S=3; else LAT_S=60 CPU_S=20; fi
HZ=1000   # pin change rate while CPU is measured
T=$(mktemp -d /tmp/hmk-webbench.XXXXXX)
REGION=hmkwebbench-$$
export HAL_MICROKERNEL_REGION=$REGION
WPID= PIDS=()
cleanup() {
    set +e # a kill of what already went must not end the cleanup
    for p in "${PIDS[@]}" $WPID; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    "$RT" detach "$REGION" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT

"$RT" create "$REGION" 16
"$RT" beat "$REGION" 100 & PIDS+=($!)
"$WEB" -l 127.0.0.1:0 -c none 2>"$T/log" & WPID=$!
for _ in $(seq 200); do grep -q 'serving http' "$T/log" && break; sleep 0.05; done
URL=http://127.0.0.1:$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$T/log")

# CPU seconds (user+system) halweb used so far
cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$WPID/stat"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$WPID/status"; }

# latency: pin.0 set to the wall clock 1.7 times a second: slower than
# the peer polls, so it sees every change and its latency is its own, and
# not in step with its 500 ms, so its polls meet changes at every phase
"$RT" clock "$REGION" 0 1.7 $((LAT_S + 30)) & CLK=$!
lat=$(cd "$src/tests/web" && node bench.mjs latency "$URL" "$LAT_S" 0)
kill "$CLK"; wait "$CLK" 2>/dev/null || true
j() { python3 -c "import json,sys; v=json.loads(sys.argv[1])['$1']; print(v if isinstance(v,int) else '%.1f' % v)" "$lat"; }

# CPU with 0, 1, 10 browsers while pin.0 changes $HZ times a second
cpu_row() {
    local n=$1 c0 c1 t0 t1
    "$RT" clock "$REGION" 1 $HZ 100000 & local clk=$!
    PIDS+=("$clk")
    if [ "$n" -gt 0 ]; then
        (cd "$src/tests/web" && node bench.mjs clients "$URL" "$n" "$CPU_S") >"$T/cl" 2>&1 &
        local nodep=$!
        PIDS+=("$nodep")
        for _ in $(seq 600); do grep -q ready "$T/cl" 2>/dev/null && break; sleep 0.1; done
    else
        sleep 1
    fi
    c0=$(cpu); t0=$(date +%s.%N)
    sleep "$CPU_S"
    c1=$(cpu); t1=$(date +%s.%N)
    local frames=-
    if [ "$n" -gt 0 ]; then
        wait "$nodep" || { cat "$T/cl" >&2; exit 1; }
        frames=$(python3 -c "import json,sys; f=json.loads(open(sys.argv[1]).read().split('\n')[1])['frames']; print('%.0f' % (sum(f)/len(f)/$CPU_S))" "$T/cl")
    fi
    kill "$clk" 2>/dev/null || true; wait "$clk" 2>/dev/null || true
    python3 -c "print('| halweb, %s browsers, a pin changing ${HZ}/s | %.2f %% of one core | %s | %s kB |' % ('$n', 100*($c1-$c0)/($t1-$t0), '$frames', '$(rss)'))"
}

echo "| measurement | result | notes |"
echo "|---|---|---|"
echo "| region change → browser DOM update (halweb, SSE ≤ 30 frames/s) | p50 $(j p50) ms, p99 $(j p99) ms | $(j n) changes at 1.7/s, measured in the page against the wall clock written into the pin |"
echo "| bridge stamp of the change's cycle → browser DOM update | p50 $(j bt_p50) ms, p99 $(j bt_p99) ms | $(j bt_n) changes, the stamp halweb sends with each (bt) |"
echo "| peer: page polling /api/pins every 500 ms | p50 $(j peer_p50) ms, p99 $(j peer_p99) ms | $(j peer_n) changes seen |"
echo
echo "| service CPU | CPU | frames/s each browser got | halweb RSS |"
echo "|---|---|---|---|"
for n in 0 1 10; do cpu_row "$n"; done
