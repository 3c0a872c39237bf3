#!/bin/bash
# bench/python.sh [--quick] [--build DIR] - Python services on hal-microkernel
# (the halmk module) beside LinuxCNC's own Python `hal` module, same run,
# same HAL:
#   - wake latency, HAL change -> Python: a halmk.Service callback and a
#     Region.wait() loop, vs hal.component polled in 1 ms and 10 ms loops
#     (bench/pylat.py, the way integrators write them). HAL's change is
#     bench/edgestamp.c: a float pin set to CLOCK_MONOTONIC at the change.
#   - reads/s and writes/s from Python: halmk r[pin] vs hal.get_value /
#     hal.set_p (halcmd-style access by name) and a component's own pins.
#   - idle CPU: an idle halmk.Service vs an idle 10 ms hal.component loop.
# Prints a markdown table. Takes the machine-wide HAL lock; always stops HAL.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build
LAT_S=20 IDLE_S=20 RW_N=1000000
while [ $# -gt 0 ]; do
    case $1 in
        --quick) LAT_S=4 IDLE_S=4 RW_N=100000 ;;
        --build) build=$(cd "$2" && pwd); shift ;;
        *) echo "python.sh: unknown argument '$1' (use --quick, --build DIR)" >&2; exit 2 ;;
    esac
    shift
done
PY=/usr/bin/python3
export RTAPI_UID=${RTAPI_UID:-65534} RTAPI_FIFO_PATH=${RTAPI_FIFO_PATH:-/tmp/hmk-rtapi-fifo}
work=$(mktemp -d /tmp/hmk-pybench.XXXXXX)
log=$work/log
die() { echo "python.sh: $*" >&2; exit 1; }
hal_cmd() { halcmd "$@" >>"$log" 2>&1 </dev/null; }
stop_hal() { halrun -U >>"$log" 2>&1 </dev/null; }

cmake --build "$build" -j2 --target halmk_python bridge >"$work/build.log" 2>&1 \
    || { tail -n 20 "$work/build.log"; die "build failed (configure $build first)"; }
export PYTHONPATH=$build/python
(cd "$work" && cp "$src/bench/edgestamp.c" . && halcompile --compile edgestamp.c) >>"$work/build.log" 2>&1 \
    || die "halcompile of bench/edgestamp.c failed"
rtlib=$(printf 'include %s\nprint:\n\t@echo $(RTLIBDIR)\n' "$(halcompile --print-modinc)" | make -s -f - print)

pids=()
cleanup() {
    local rc=$?
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    stop_hal
    rm -f "$rtlib/edgestamp.so"
    if [ $rc -ne 0 ]; then echo "python.sh: work directory kept: $work" >&2; else rm -rf "$work"; fi
    exit $rc
}
echo "waiting for the machine-wide HAL lock" >&2
exec 9>/tmp/hmk-hal.lock
flock 9
trap cleanup EXIT
trap 'exit 130' INT TERM
stop_hal
cp "$build/hal_microkernel_bridge.so" "$work/edgestamp.so" "$rtlib/" || die "cannot install into $rtlib"
cat >"$work/b.hal" <<HAL
loadrt threads name1=servo-thread period1=1000000
loadrt edgestamp min_cycles=10 max_cycles=30
loadrt hal_microkernel_bridge count=0 pins=stamp:float:in,w:float:out
addf edgestamp.update servo-thread
addf microkernel.update servo-thread
net stamp edgestamp.stamp => microkernel.stamp
start
HAL
halcmd -f "$work/b.hal" >>"$log" 2>&1 </dev/null || die "HAL config failed: $(tail -n 3 "$log")"

# percentiles of a file of ns samples -> "count p50_us p99_us"
pct() {
    sort -n "$1" | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "0 - -"; exit }
        i50 = int(NR * 0.50 + 0.5); i99 = int(NR * 0.99 + 0.5)
        if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1
        printf "%d %.0f %.0f\n", NR, v[i50] / 1000, v[i99] / 1000 }'
}
rows=()
lat_row() { # WHO FILE
    read -r n p50 p99 < <(pct "$2")
    rows+=("| HAL → Python wake latency | $1 | p50 ${p50} µs, p99 ${p99} µs | $n changes, ${LAT_S} s |")
}

echo "latency: halmk.Service" >&2
$PY "$src/bench/python_bench.py" svc "$LAT_S" "$work/lat.svc" >>"$log" 2>&1 || die "svc latency failed: $(tail -n 3 "$log")"
lat_row "halmk: \`Service.on_change\` callback" "$work/lat.svc"
echo "latency: halmk Region.wait" >&2
$PY "$src/bench/python_bench.py" wait "$LAT_S" "$work/lat.wait" >>"$log" 2>&1 || die "wait latency failed"
lat_row "halmk: \`Region.wait()\` loop" "$work/lat.wait"
for ms in 1 10; do
    echo "latency: hal.component ${ms} ms loop" >&2
    name=pylat$ms
    $PY "$src/bench/pylat.py" "$name" "$(awk -v m=$ms 'BEGIN { print m / 1000 }')" "$LAT_S" "$work/lat.py$ms" \
        >>"$log" 2>&1 </dev/null &
    pypid=$!
    end=$(( $(date +%s) + 20 ))
    until halcmd -s show pin "$name.stamp" 2>/dev/null | grep -q "$name.stamp"; do
        [ "$(date +%s)" -lt "$end" ] || die "pylat.py $name did not come up"
        sleep 0.05
    done
    hal_cmd net stamp "$name.stamp"
    wait "$pypid" || die "pylat.py failed: $(tail -n 3 "$log")"
    lat_row "LinuxCNC: \`hal.component\`, ${ms} ms poll loop" "$work/lat.py$ms"
done

echo "reads and writes" >&2
read -r mr mw hg hs cr cw < <($PY "$src/bench/python_bench.py" rw "$RW_N" 2>>"$log") \
    || die "rw failed: $(tail -n 3 "$log")"
k() { awk -v x="$1" 'BEGIN { printf "%.0f k/s", x / 1000 }'; }
rows+=("| reads from Python | halmk: \`r['stamp']\` | $(k "$mr") | $RW_N reads |")
rows+=("| reads from Python | LinuxCNC: \`hal.get_value('microkernel.stamp')\` (by name, as halcmd) | $(k "$hg") | $(( RW_N / 10 )) reads |")
rows+=("| reads from Python | LinuxCNC: \`comp['x']\` (a component's own pin) | $(k "$cr") | $RW_N reads |")
rows+=("| writes from Python | halmk: \`r['w'] = v\` (one-pin transaction) | $(k "$mw") | $RW_N writes |")
rows+=("| writes from Python | LinuxCNC: \`hal.set_p('pybenchrw.x', v)\` (by name, as halcmd) | $(k "$hs") | $(( RW_N / 10 )) writes |")
rows+=("| writes from Python | LinuxCNC: \`comp['y'] = v\` (a component's own pin) | $(k "$cw") | $RW_N writes |")

echo "idle CPU" >&2
hal_cmd delf edgestamp.update servo-thread   # no more changes: idle
$PY "$src/bench/python_bench.py" idle >>"$log" 2>&1 </dev/null &
pids+=($!); idlepid=$!
$PY "$src/bench/pylat.py" pyidle 0.01 $(( IDLE_S + 30 )) /dev/null >>"$log" 2>&1 </dev/null &
pids+=($!); pyidle=$!
sleep 2   # not a wait for a condition: let both finish starting up before the window
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
a0=$(ticks $idlepid) b0=$(ticks $pyidle)
sleep "$IDLE_S"   # the measurement window
a1=$(ticks $idlepid) b1=$(ticks $pyidle)
hz=$(getconf CLK_TCK)
cpu() { awk -v t="$1" -v s="$IDLE_S" -v hz="$hz" 'BEGIN { printf "%.2f %%", 100 * t / hz / s }'; }
rows+=("| idle CPU | halmk: idle \`Service\` | $(cpu $(( a1 - a0 ))) | ${IDLE_S} s |")
rows+=("| idle CPU | LinuxCNC: idle \`hal.component\` 10 ms loop | $(cpu $(( b1 - b0 ))) | ${IDLE_S} s |")

echo "## Python: halmk vs LinuxCNC's \`hal\` module ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "Servo thread 1 ms; $(nproc) CPUs, load $(cut -d ' ' -f 1-3 /proc/loadavg); /usr/bin/python3 $($PY -c 'import platform; print(platform.python_version())')."
echo
echo "| measure | who | result | sample |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
