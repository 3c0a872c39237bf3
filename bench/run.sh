#!/bin/bash
# bench/run.sh - hal-microkernel against LinuxCNC's own ways, side by side,
# on this machine, in one run. Prints one markdown table and writes it, with
# the exact command, to bench/RESULTS.md (never edit that file by hand) and a
# PNG of the latency distributions next to it.
#
#   sudo bench/run.sh [--quick] [--out FILE.md] [--build DIR]
#
#   --quick    every row with tiny counts (~20 s): checks that the script
#              works; asserts no speed. CI runs this.
#   --out      where to write the results (default bench/RESULTS.md); the
#              plot goes to the same name with .png.
#   --build    build directory (default build/default, as scripts/test.sh
#              makes it); configured (RelWithDebInfo) if it is not yet.
#
# Needs root: it installs the bridge and two benchmark-only realtime
# components (bench/edgestamp.c, bench/copybase.c) into LinuxCNC's module
# directory and starts a HAL. One HAL per machine: it holds the same lock
# as tests/hal/runtest.sh for the whole run and always stops HAL at the end.
# Exit status: 0 when every row was measured, 1 otherwise (the row says why).
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
quick=0
out=$src/bench/RESULTS.md
build=$src/build/default
cmdline="bench/run.sh${*:+ $*}"
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --out) out=${2:?--out needs a file}; shift ;;
    --build) build=${2:?--build needs a directory}; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case $out in /*) ;; *) out=$PWD/$out ;; esac
case $build in /*) ;; *) build=$PWD/$build ;; esac
plot=${out%.md}.png

die() { echo "bench/run.sh: $*" >&2; exit 1; }
say() { echo "[bench $(date +%T)] $*" >&2; }
[ "$(id -u)" -eq 0 ] || die "needs root (it installs HAL modules and starts a HAL)"

# ---- sizes ------------------------------------------------------------------
if [ $quick -eq 1 ]; then
    REPS=3 WRITE_S=0.2 SETP_N=5 BATCH_N=100 LAT_S=1 RT_N=50 CYCLES=300
    IDLE_S=3 CRASH_N=10 WAIT_S=1 STRACE_S=2
else
    REPS=5 WRITE_S=1 SETP_N=50 BATCH_N=1000 LAT_S=20 RT_N=1000 CYCLES=5000
    IDLE_S=60 CRASH_N=100 WAIT_S=10 STRACE_S=10
fi
PERIOD_NS=1000000   # servo-thread period

export RTAPI_UID=${RTAPI_UID:-65534}
export RTAPI_FIFO_PATH=${RTAPI_FIFO_PATH:-/tmp/hmk-rtapi-fifo}
PY=/usr/bin/python3  # Debian's, with LinuxCNC's hal module
work=$(mktemp -d /tmp/hmk-bench.XXXXXX)
log=$work/hal.log
rows=$work/rows.md      # table rows, in order
failed=0

# ---- helpers ----------------------------------------------------------------
# rtapi_app keeps the stdout of the halcmd that started it: never a pipe.
hal_load() { halcmd -f "$1" >>"$log" 2>&1 </dev/null 9>&-; }  # 9>&-: rtapi_app must not hold the lock
hal_cmd() { halcmd "$@" 2>>"$log" </dev/null 9>&-; }
stop_hal() { halrun -U >>"$log" 2>&1 </dev/null; }
now_ns() { date +%s%N; }

# wait_until SECONDS COMMAND...: retry COMMAND until it succeeds or time is up.
wait_until() {
    local end=$(( $(now_ns) + $1 * 1000000000 )); shift
    while ! "$@" >/dev/null 2>&1; do
        [ "$(now_ns)" -lt "$end" ] || return 1
        sleep 0.01
    done
}

# stats FILE [DIV]: "n median p99 min max" of the numbers in FILE, each
# divided by DIV. Median = sorted[n/2] (0-based); p99 is the nearest rank,
# sorted[ceil(0.99 n) - 1].
stats() {
    sort -g "$1" | awk -v d="${2:-1}" '
        { v[n++] = $1 / d }
        END { if (n == 0) { print "0 0 0 0 0"; exit }
              p = int((n * 99 + 99) / 100) - 1
              printf "%d %.6g %.6g %.6g %.6g\n", n, v[int(n / 2)], v[p], v[0], v[n - 1] }'
}

# fmt NUMBER: 3 significant digits, thousands as k/M for big ones.
fmt() {
    awk -v x="$1" 'BEGIN {
        a = x < 0 ? -x : x
        if (a >= 1e6) printf "%.3gM", x / 1e6
        else if (a >= 1e4) printf "%.0fk", x / 1e3
        else if (a >= 100) printf "%.0f", x
        else if (a >= 10) printf "%.1f", x
        else printf "%.2f", x }'
}

# row NUM WHAT HOW MEDIAN SPREAD SAMPLES
row() { printf '| %s | %s | %s | **%s** | %s | %s |\n' "$@" >>"$rows"; }
# not_measured NUM WHAT WHY
not_measured() {
    printf '| %s | %s | | not measured: %s | | |\n' "$1" "$2" "$3" >>"$rows"
    say "row $1 ($2) not measured: $3"
    failed=1
}

# latency_row NUM WHAT HOW FILE: a latency row in microseconds from ns samples.
latency_row() {
    local n med p99 mn mx
    read -r n med p99 mn mx < <(stats "$4" 1000)
    if [ "$n" -eq 0 ]; then not_measured "$1" "$2" "no samples ($3)"; return; fi
    row "$1" "$2" "$3" "$(fmt "$med") µs" "p99 $(fmt "$p99") µs, max $(fmt "$mx") µs" "$n changes"
}

# cpu_ns PID...: CPU time used so far by all threads of the PIDs, in ns
# (/proc/PID/task/*/schedstat, first field: time on a CPU).
cpu_ns() {
    local p t sum=0 v
    for p in "$@"; do
        for t in /proc/"$p"/task/*/schedstat; do
            read -r v _ <"$t" 2>/dev/null && sum=$(( sum + v ))
        done
    done
    echo "$sum"
}
# wakeups PID: voluntary context switches of all its threads (times it slept and woke)
wakeups() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ { n += $2 } END { print n + 0 }'; }
# priv_kb PID: memory only this process uses (Private_Clean + Private_Dirty)
priv_kb() { awk '/^Private_(Clean|Dirty):/ { n += $2 } END { print n + 0 }' "/proc/$1/smaps_rollup"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# anon_kb PID: memory the process itself allocated (heap, stacks, libraries' written data)
anon_kb() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status"; }

# ---- build ------------------------------------------------------------------
say "build in $build"
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$work/build.log" 2>&1 \
        || { tail -n 20 "$work/build.log"; die "cmake configure failed"; }
fi
cmake --build "$build" -j"$(nproc)" --target halmk bridge halpoke wakelat writerate roundtrip \
    execns pipelat crashsvc waiters >>"$work/build.log" 2>&1 \
    || { tail -n 30 "$work/build.log"; die "build of the bridge and bench programs failed"; }
have_daemon=1 have_services=1
cmake --build "$build" -j"$(nproc)" --target hal-microkernel hal-microkernelctl \
    >>"$work/build.log" 2>&1 || have_daemon=0
cmake --build "$build" -j"$(nproc)" --target pinlog spindle-hours filefeed \
    >>"$work/build.log" 2>&1 || have_services=0
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
grep -q '^HMK_ASAN:BOOL=ON\|^HMK_TSAN:BOOL=ON' "$build/CMakeCache.txt" \
    && build_type="$build_type, WITH SANITIZERS (numbers not representative)"

# realtime helpers: compiled now, installed only for this run
(cd "$work" && cp "$src/bench/edgestamp.c" "$src/bench/copybase.c" . \
    && halcompile --compile edgestamp.c && halcompile --compile copybase.c) >>"$work/build.log" 2>&1 \
    || { tail -n 20 "$work/build.log"; die "halcompile of bench/edgestamp.c or bench/copybase.c failed"; }
rtlib=$(printf 'include %s\nprint:\n\t@echo $(RTLIBDIR)\n' "$(halcompile --print-modinc)" | make -s -f - print)
[ -d "$rtlib" ] || die "cannot find LinuxCNC's module directory"

# ---- gnuplot (for the plot only) ----------------------------------------------
if ! command -v gnuplot >/dev/null; then
    say "installing gnuplot-nox"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gnuplot-nox \
        >"$work/apt.log" 2>&1 \
        || { apt-get update >>"$work/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive \
             apt-get install -y --no-install-recommends gnuplot-nox >>"$work/apt.log" 2>&1; } \
        || say "gnuplot-nox could not be installed: no plot (see $work/apt.log)"
fi

# ---- the machine -----------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
[ -n "$cpu" ] || cpu=$(uname -m)
if grep -q PREEMPT_RT /proc/version 2>/dev/null || [ "$(cat /sys/kernel/realtime 2>/dev/null)" = 1 ]; then
    rt="PREEMPT_RT kernel"
else
    rt="not realtime (no PREEMPT_RT)"
fi
load0=$(cut -d " " -f 1-3 /proc/loadavg)
lcnc=$(dpkg-query -W -f '${Version}' linuxcnc-uspace 2>/dev/null || echo unknown)

# ---- HAL: lock, always stop -------------------------------------------------------
dpid=
cleanup() {
    local rc=$?
    [ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
    for p in $(jobs -p); do kill "$p" 2>/dev/null; done
    stop_hal
    rm -f "$rtlib/edgestamp.so" "$rtlib/copybase.so"
    if [ $rc -ne 0 ] || [ $failed -ne 0 ]; then
        echo "bench/run.sh: work directory kept: $work" >&2
    else
        rm -rf "$work"
    fi
    exit $rc
}
say "waiting for the machine-wide HAL lock"
exec 9>/tmp/hmk-hal.lock
flock 9
trap cleanup EXIT
trap 'exit 130' INT TERM
stop_hal
cp "$build/hal_microkernel_bridge.so" "$work/edgestamp.so" "$work/copybase.so" "$rtlib/" \
    || die "cannot install modules into $rtlib"
tsc_hz=$("$build/execns" --tsc 2>/dev/null) || tsc_hz=0
: >"$rows"

# =====================================================================================
# Row 4 first: it needs a HAL of its own for each pin count.
# =====================================================================================
say "row 4: bridge cost in the servo thread"
for n in 16 64 256; do
    stop_hal
    cat >"$work/cost.hal" <<HAL
loadrt threads name1=servo-thread period1=$PERIOD_NS
loadrt hal_microkernel_bridge count=$n
loadrt copybase count=$n
loadrt sampler depth=$(( CYCLES + 1000 )) cfg=ss
addf microkernel.update servo-thread
addf copybase.copy servo-thread
addf sampler.0 servo-thread
net bridge-time microkernel.update.time => sampler.0.pin.0
net base-time copybase.copy.time => sampler.0.pin.1
setp sampler.0.enable 0
start
HAL
    if ! hal_load "$work/cost.hal"; then
        not_measured 4 "bridge cost, $n pins" "HAL config failed: $(tail -n 1 "$log")"
        continue
    fi
    sleep 0.2   # not a wait for a condition: let the thread settle before sampling
    hal_cmd setp sampler.0.enable 1
    # both record the same cycles: HAL's .time pins and the bridge's own exec_ns
    timeout $(( CYCLES / 1000 + 30 )) "$build/execns" "$CYCLES" "$work/exec.$n" >>"$log" 2>&1 </dev/null &
    epid=$!
    timeout $(( CYCLES / 1000 + 20 )) halsampler -n "$CYCLES" >"$work/cost.$n.txt" 2>>"$log" </dev/null
    wait "$epid" || : >"$work/exec.$n"
    awk 'NF >= 2 && $1 ~ /^[0-9]/ { print $1 > "'"$work/hal.$n"'"; print $2 > "'"$work/base.$n"'" }' \
        "$work/cost.$n.txt"
    if [ "$tsc_hz" -gt 0 ] && [ -s "$work/hal.$n" ]; then
        for k in hal base; do
            read -r cnt med p99 mn mx < <(stats "$work/$k.$n" "$(awk -v h="$tsc_hz" 'BEGIN { print h / 1e9 }')")
            if [ $k = hal ]; then
                row 4 "bridge cost, $n pins" "hal-microkernel: \`microkernel.update.time\` (HAL's own, TSC → ns)" \
                    "$(fmt "$med") ns" "p99 $(fmt "$p99") ns, max $(fmt "$mx") ns" "$cnt cycles"
            else
                row 4 "bridge cost, $n pins" "baseline: \`copybase.copy.time\`, copies $n float pins, no region" \
                    "$(fmt "$med") ns" "p99 $(fmt "$p99") ns, max $(fmt "$mx") ns" "$cnt cycles"
            fi
        done
    else
        not_measured 4 "bridge cost, $n pins (HAL's .time)" "no TSC rate or no halsampler output"
    fi
    if [ -s "$work/exec.$n" ]; then
        read -r cnt med p99 mn mx < <(stats "$work/exec.$n")
        row 4 "bridge cost, $n pins" "hal-microkernel: its own exec_ns (hmk_stats, CLOCK_MONOTONIC)" \
            "$(fmt "$med") ns" "p99 $(fmt "$p99") ns, max $(fmt "$mx") ns" "$cnt cycles"
    else
        not_measured 4 "bridge cost, $n pins (exec_ns)" "execns failed: $(tail -n 1 "$log")"
    fi
done
stop_hal

# =====================================================================================
# One HAL for rows 1, 2, 3, 5, 6
# =====================================================================================
pins=stamp:float:in,loop.out:float:out,loop.in:float:in,run:bit:in,hours:float:out,feed:float:out
cat >"$work/main.hal" <<HAL
loadrt threads name1=servo-thread period1=$PERIOD_NS
loadrt edgestamp min_cycles=10 max_cycles=30
loadrt hal_microkernel_bridge count=256 pins=$pins
loadrt sampler depth=4096 cfg=f
addf edgestamp.update servo-thread
addf microkernel.update servo-thread
addf sampler.0 servo-thread
net stamp edgestamp.stamp => microkernel.stamp sampler.0.pin.0
net loop microkernel.loop.out => microkernel.loop.in
setp sampler.0.enable 0
start
HAL
hal_load "$work/main.hal" || die "HAL config for rows 1-3, 5, 6 failed: $(tail -n 3 "$log")"
hal_mode=$(grep -m 1 -o 'Using [A-Za-z0-9 _-]*' "$log" | sed 's/^Using //')
export PATH=$build:$PATH
wait_until 10 "$build/halpoke" stamp || die "the bridge's region did not come up"

# ---- row 1: write path ----------------------------------------------------------------
say "row 1: write path"
for p in 1 16 256; do
    : >"$work/wr.$p"
    for r in $(seq "$REPS"); do
        "$build/writerate" "$p" "$WRITE_S" 2>>"$log" | awk '{ print $10 }' >>"$work/wr.$p"
    done
    read -r cnt med p99 mn mx < <(stats "$work/wr.$p")
    if [ "$cnt" -eq "$REPS" ]; then
        row 1 "pin writes/s" "hal-microkernel: libhalmk, $p pin(s) per transaction" "$(fmt "$med")/s" \
            "min–max $(fmt "$mn")–$(fmt "$mx")" "$REPS × ${WRITE_S} s"
    else
        not_measured 1 "pin writes/s ($p pins/txn)" "writerate failed: $(tail -n 1 "$log")"
    fi
done
: >"$work/setp.ns"
for i in $(seq "$SETP_N"); do
    t0=$(now_ns)
    halcmd setp microkernel.pin.0.in "$i" 2>>"$log" </dev/null || break
    echo $(( $(now_ns) - t0 )) >>"$work/setp.ns"
done
read -r cnt med p99 mn mx < <(stats "$work/setp.ns")
if [ "$cnt" -eq "$SETP_N" ]; then
    row 1 "pin writes/s" "LinuxCNC: \`halcmd setp\`, one process per write" \
        "$(fmt "$(awk -v m="$med" 'BEGIN { print 1e9 / m }')")/s" \
        "min–max $(fmt "$(awk -v m="$mx" 'BEGIN { print 1e9 / m }')")–$(fmt "$(awk -v m="$mn" 'BEGIN { print 1e9 / m }')")" \
        "$SETP_N calls"
else
    not_measured 1 "pin writes/s (halcmd setp)" "halcmd setp failed: $(tail -n 1 "$log")"
fi
awk -v n="$BATCH_N" 'BEGIN { for (i = 0; i < n; i++) printf "setp microkernel.pin.%d.in %d\n", i % 256, i }' \
    >"$work/batch.hal"
: >"$work/batch.rate"
for r in $(seq "$REPS"); do
    t0=$(now_ns)
    halcmd -f "$work/batch.hal" >>"$log" 2>&1 </dev/null || break
    awk -v n="$BATCH_N" -v t=$(( $(now_ns) - t0 )) 'BEGIN { print n * 1e9 / t }' >>"$work/batch.rate"
done
read -r cnt med p99 mn mx < <(stats "$work/batch.rate")
if [ "$cnt" -eq "$REPS" ]; then
    row 1 "pin writes/s" "LinuxCNC: \`halcmd -f\` batch of $BATCH_N setp" "$(fmt "$med")/s" \
        "min–max $(fmt "$mn")–$(fmt "$mx")" "$REPS batches"
else
    not_measured 1 "pin writes/s (halcmd -f)" "halcmd -f failed: $(tail -n 1 "$log")"
fi

# ---- row 2: HAL -> service latency --------------------------------------------------------
say "row 2: HAL -> service latency (${LAT_S} s per observer)"
lat_count=$(awk -v s="$LAT_S" 'BEGIN { printf "%d", s * 1000 / 10 + 10 }')
if "$build/wakelat" -s -o "$work/lat.hmk" -d "$LAT_S" stamp "$lat_count" >>"$log" 2>&1 </dev/null; then
    latency_row 2 "HAL → service latency" "hal-microkernel: \`hmk_wait\` futex wake" "$work/lat.hmk"
else
    not_measured 2 "HAL → service latency (hmk_wait)" "wakelat failed: $(tail -n 1 "$log")"
fi
for ms in 1 10; do
    name=pylat$ms
    "$PY" "$src/bench/pylat.py" "$name" "$(awk -v m=$ms 'BEGIN { print m / 1000 }')" "$LAT_S" \
        "$work/lat.py$ms" >>"$log" 2>&1 </dev/null &
    pypid=$!
    if wait_until 20 sh -c "halcmd -s show pin $name.stamp 2>/dev/null | grep -q $name.stamp" \
        && hal_cmd net stamp "$name.stamp" && wait "$pypid"; then
        latency_row 2 "HAL → service latency" "LinuxCNC: Python \`hal.component\`, ${ms} ms poll loop" "$work/lat.py$ms"
    else
        kill "$pypid" 2>/dev/null; wait "$pypid" 2>/dev/null
        not_measured 2 "HAL → service latency (Python ${ms} ms)" "pylat.py failed: $(tail -n 1 "$log")"
    fi
done
# halsampler: the sampler component's FIFO, read by halsampler into a pipe
# (line-buffered with stdbuf, its best case), timestamped per line by pipelat
samples=$(awk -v s="$LAT_S" 'BEGIN { printf "%d", s * 1e9 / '"$PERIOD_NS"' }')
( timeout $(( ${LAT_S%.*} + 20 )) stdbuf -oL halsampler -n "$samples" 2>>"$log" </dev/null \
    | "$build/pipelat" "$work/lat.sampler" >>"$log" 2>&1 ) &
spid=$!
sleep 0.2   # not a wait for a condition: halsampler attaches to the FIFO
hal_cmd setp sampler.0.enable 1
if wait "$spid" && [ -s "$work/lat.sampler" ]; then
    latency_row 2 "HAL → service latency" "LinuxCNC: \`sampler\` FIFO read by \`halsampler\` (pipe)" "$work/lat.sampler"
else
    not_measured 2 "HAL → service latency (halsampler)" "halsampler failed: $(tail -n 1 "$log")"
fi
hal_cmd setp sampler.0.enable 0

# ---- row 3: round trip ------------------------------------------------------------------------
say "row 3: round trip"
if "$build/roundtrip" loop.out loop.in "$RT_N" "$work/rt.ns" >>"$log" 2>&1 </dev/null; then
    read -r cnt med p99 mn mx < <(stats "$work/rt.ns" "$PERIOD_NS")
    row 3 "round trip service → out pin → net → in pin → service" \
        "hal-microkernel: \`hmk_write_float\` then \`hmk_wait\` (1 ms servo period)" \
        "$(fmt "$med") periods" "p99 $(fmt "$p99"), max $(fmt "$mx") periods" "$cnt round trips"
else
    not_measured 3 "round trip" "roundtrip failed: $(tail -n 1 "$log")"
fi

# ---- row 5: idle cost -------------------------------------------------------------------------
daemon=$build/daemon/hal-microkernel
ctl=$build/daemon/hal-microkernelctl
svcbin=$build/services
sock=$work/control
daemon_ini() {
    printf '[daemon]\nregion = hal-microkernel\nheartbeat-period = 100ms\n'
    printf 'control-socket = %s\nlog-level = info\n\n' "$sock"
}
daemon_start() {
    "$daemon" -n -c "$1" >>"$work/daemon.log" 2>&1 || return 1
    "$daemon" -c "$1" >>"$work/daemon.log" 2>&1 </dev/null &
    dpid=$!
    wait_until 10 test -S "$sock"
}
daemon_stop() {
    [ -n "$dpid" ] || return 0
    kill -TERM "$dpid" 2>/dev/null
    wait_until 20 sh -c "! kill -0 $dpid 2>/dev/null" || kill -KILL "$dpid" 2>/dev/null
    wait "$dpid" 2>/dev/null
    dpid=
}
svc_pid() {
    "$ctl" -s "$sock" --json status "$1" 2>/dev/null \
        | "$PY" -c 'import json,sys; s=json.load(sys.stdin)[0]; print(s["pid"] if s["state"] == "running" else 0)'
}
svc_up() { local p; p=$(svc_pid "$1") && [ "${p:-0}" -gt 0 ]; }

say "row 5: idle cost (${IDLE_S} s)"
if [ $have_daemon -eq 0 ] || [ $have_services -eq 0 ]; then
    not_measured 5 "idle cost" "the daemon or the services did not build (see cmake --build output)"
else
    hal_cmd delf edgestamp.update servo-thread   # no changes from here: idle
    { daemon_ini; cat <<INI
[service pinlog]
exec = $svcbin/pinlog --out $work/pinlog.log run
ready = fd
restart = no

[service spindle-hours]
exec = $svcbin/spindle-hours --run run --total hours --state $work/hours.state
ready = fd
restart = no
writes = hours

[service filefeed]
exec = $svcbin/filefeed --from $work/feed.fifo --to feed --mkfifo
ready = fd
restart = no
writes = feed
INI
    } >"$work/idle.ini"
    printf 'spindle-hours 1\ntotal_ms 0\n' >"$work/hours.state"
    if daemon_start "$work/idle.ini" && wait_until 10 svc_up pinlog && wait_until 10 svc_up spindle-hours \
        && wait_until 10 svc_up filefeed; then
        spids="$(svc_pid pinlog) $(svc_pid spindle-hours) $(svc_pid filefeed)"
        "$PY" "$src/bench/pylat.py" pyidle 0.01 $(( ${IDLE_S%.*} + 30 )) /dev/null >>"$log" 2>&1 </dev/null &
        pyidle=$!
        wait_until 20 sh -c "halcmd -s show pin pyidle.stamp 2>/dev/null | grep -q pyidle" || true
        sleep 1   # not a wait for a condition: let start-up work finish before the idle windows
        : >"$work/idle.ours"; : >"$work/idle.py"; : >"$work/idle.dwake"
        set -- $dpid $spids
        for k in 1 2 3 4; do : >"$work/idle.proc$k"; done
        win=$(awk -v s="$IDLE_S" -v r="$REPS" 'BEGIN { print s / r }')
        for r in $(seq "$REPS"); do
            p0=(); for k in 1 2 3 4; do p0[k]=$(cpu_ns "${!k}"); done
            b0=$(cpu_ns $pyidle); t0=$(now_ns); w0=$(wakeups "$dpid")
            sleep "$win"   # the measurement window, not a wait for a condition
            p1=(); for k in 1 2 3 4; do p1[k]=$(cpu_ns "${!k}"); done
            b1=$(cpu_ns $pyidle); t1=$(now_ns); w1=$(wakeups "$dpid")
            awk -v w=$(( w1 - w0 )) -v t=$(( t1 - t0 )) 'BEGIN { print w * 1e9 / t }' >>"$work/idle.dwake"
            sum=0
            for k in 1 2 3 4; do
                sum=$(( sum + p1[k] - p0[k] ))
                awk -v c=$(( p1[k] - p0[k] )) -v t=$(( t1 - t0 )) 'BEGIN { print 100 * c / t }' >>"$work/idle.proc$k"
            done
            awk -v c=$sum -v t=$(( t1 - t0 )) 'BEGIN { print 100 * c / t }' >>"$work/idle.ours"
            awk -v c=$(( b1 - b0 )) -v t=$(( t1 - t0 )) 'BEGIN { print 100 * c / t }' >>"$work/idle.py"
        done
        read -r cnt dwake p99 mn mx < <(stats "$work/idle.dwake")
        perproc=
        k=1
        for nm in daemon pinlog spindle-hours filefeed; do
            read -r cnt med p99 mn mx < <(stats "$work/idle.proc$k")
            perproc="$perproc${perproc:+, }$nm $(awk -v x="$med" 'BEGIN { printf "%.3f", x }')"
            k=$(( k + 1 ))
        done
        pl=$(svc_pid pinlog)
        rss_d=$(rss_kb "$dpid"); rss_s=$(rss_kb "$pl"); rss_p=$(rss_kb "$pyidle")
        prv_d=$(priv_kb "$dpid"); prv_s=$(priv_kb "$pl"); prv_p=$(priv_kb "$pyidle")
        anon_d=$(anon_kb "$dpid"); anon_s=$(anon_kb "$pl"); anon_p=$(anon_kb "$pyidle")
        kill "$pyidle" 2>/dev/null; wait "$pyidle" 2>/dev/null
        read -r cnt med p99 mn mx < <(stats "$work/idle.ours")
        row 5 "idle CPU" "hal-microkernel: daemon + 3 idle services (pinlog, spindle-hours, filefeed)" \
            "$(awk -v x="$med" 'BEGIN { printf "%.3f", x }') %" \
            "min–max $(awk -v a="$mn" -v b="$mx" 'BEGIN { printf "%.3f–%.3f", a, b }') %; medians: $perproc %; daemon woke $(fmt "$dwake")/s" \
            "$REPS × $win s"
        read -r cnt med p99 mn mx < <(stats "$work/idle.py")
        row 5 "idle CPU" "LinuxCNC: Python \`hal.component\`, 10 ms loop" \
            "$(awk -v x="$med" 'BEGIN { printf "%.3f", x }') %" \
            "min–max $(awk -v a="$mn" -v b="$mx" 'BEGIN { printf "%.3f–%.3f", a, b }') %" \
            "$REPS × $win s"
        row 5 "RSS" "hal-microkernel: daemon / one service (pinlog)" "${rss_d} KiB / ${rss_s} KiB" \
            "VmRSS; private (not shared with other processes): ${prv_d} KiB / ${prv_s} KiB" "1"
        row 5 "RSS" "LinuxCNC: Python \`hal.component\`" "${rss_p} KiB" "VmRSS; private: ${prv_p} KiB" "1"
        row 5 "own memory" "hal-microkernel: daemon / one service (pinlog)" "${anon_d} KiB / ${anon_s} KiB" \
            "RssAnon: what the process allocated itself (heap, stacks, libraries' data), no file pages" "1"
        row 5 "own memory" "LinuxCNC: Python \`hal.component\`" "${anon_p} KiB" "RssAnon" "1"
    else
        not_measured 5 "idle cost" "daemon or services did not come up: $(tail -n 1 "$work/daemon.log")"
    fi
    daemon_stop
fi

# ---- row 6: supervision -----------------------------------------------------------------------
say "row 6: supervision ($CRASH_N crashes)"
if [ $have_daemon -eq 0 ]; then
    not_measured 6 "restart latency" "the daemon did not build"
else
    { daemon_ini; cat <<INI
[service crash]
exec = $build/crashsvc $work/crash.log $(( CRASH_N + 1 ))
restart = always
backoff-initial = 0
backoff-factor = 1
backoff-max = 0
crash-limit = none
INI
    } >"$work/crash.ini"
    : >"$work/crash.log"
    starts() { grep -c '^start' "$work/crash.log"; }
    enough() { [ "$(starts)" -gt "$CRASH_N" ]; }
    if daemon_start "$work/crash.ini" && wait_until $(( CRASH_N / 2 + 30 )) enough; then
        awk '$1 == "exit" { e = $2 } $1 == "start" && e { print $2 - e; e = 0 }' \
            "$work/crash.log" >"$work/restart.ns"
        read -r cnt med p99 mn mx < <(stats "$work/restart.ns" 1000)
        row 6 "restart latency, child exit → new child's main()" \
            "hal-microkernel daemon, restart = always, backoff 0" \
            "$(fmt "$med") µs" "p99 $(fmt "$p99") µs, max $(fmt "$mx") µs" "$cnt crashes"
    else
        not_measured 6 "restart latency" "only $(starts) starts: $(tail -n 1 "$work/daemon.log")"
    fi
    daemon_stop
fi
# the floor without a supervisor: what an integrator's shell loop does
: >"$work/shloop.log"
for i in $(seq $(( CRASH_N + 1 ))); do "$build/crashsvc" "$work/shloop.log" 1000000000; done 2>>"$log"
awk '$1 == "exit" { e = $2 } $1 == "start" && e { print $2 - e; e = 0 }' "$work/shloop.log" >"$work/shloop.ns"
read -r cnt med p99 mn mx < <(stats "$work/shloop.ns" 1000)
if [ "$cnt" -eq "$CRASH_N" ]; then
    row 6 "restart latency, child exit → new child's main()" \
        "baseline: bash \`for ...; do svc; done\` (no supervisor: LinuxCNC's \`loadusr\` never restarts)" \
        "$(fmt "$med") µs" "p99 $(fmt "$p99") µs, max $(fmt "$mx") µs" "$cnt crashes"
else
    not_measured 6 "restart latency (shell loop)" "crashsvc failed: $(tail -n 1 "$log")"
fi

# ---- row 7: waiters -------------------------------------------------------------------------
# The bridge's worst cycle (HAL's own .tmax) while a pin changes every
# cycle and N threads of one read-only client wait in hmk_wait_change, with
# the daemon's relay and without a daemon; then which system calls the servo
# thread made, under strace, with 1000 waiters.
say "row 7: bridge cost with 0, 1, 100, 1000 waiting threads (${WAIT_S} s each)"
stop_hal
cat >"$work/wait.hal" <<HAL
loadrt threads name1=servo-thread period1=$PERIOD_NS
loadrt siggen
loadrt hal_microkernel_bridge count=4
loadrt sampler depth=$(( WAIT_S * 1000 + 2000 )) cfg=s
addf siggen.0.update servo-thread
addf microkernel.update servo-thread
addf sampler.0 servo-thread
net wave siggen.0.sine => microkernel.pin.0.in
net wtime microkernel.update.time => sampler.0.pin.0
setp sampler.0.enable 0
start
HAL
clocks_ns() { awk -v c="$1" -v h="$tsc_hz" 'BEGIN { if (h > 0) printf "%.0f", c * 1e9 / h; else print c }'; }
# servo_tid: the thread of rtapi_app that runs the servo thread (the one
# that has run most since HAL started)
servo_tid() {
    local p; p=$(pgrep -x rtapi_app | head -n 1)
    for t in /proc/"$p"/task/*; do
        printf '%s %s\n' "$(awk '{ print $14 + $15 }' "$t/stat")" "${t##*/}"
    done | sort -n | tail -n 1 | cut -d " " -f 2
}
if ! hal_load "$work/wait.hal"; then
    not_measured 7 "bridge worst cycle with waiters" "HAL config failed: $(tail -n 1 "$log")"
else
    wait_until 10 "$build/halpoke" pin.0 || say "row 7: the region did not come up"
    printf '[daemon]\nregion = hal-microkernel\nheartbeat-period = 100ms\ncontrol-socket = %s\n' \
        "$sock" >"$work/wait.ini"
    for mode in relay none; do
        if [ $mode = relay ]; then
            if [ $have_daemon -eq 0 ] || ! daemon_start "$work/wait.ini"; then
                not_measured 7 "bridge worst cycle with waiters (daemon)" "the daemon did not start"
                continue
            fi
            wait_until 10 sh -c '[ "$(halcmd -s getp microkernel.connected)" = TRUE ]' \
                || say "row 7: the daemon did not connect"
            how="hal-microkernel, daemon running (relay wakes the waiters)"
        else
            how="hal-microkernel, no daemon (waiters look every 10 ms)"
        fi
        for n in 0 1 100 1000; do
            wpid=
            if [ $n -gt 0 ]; then
                "$build/waiters" $n >"$work/waiters.out" 2>>"$log" &
                wpid=$!
                wait_until 30 grep -q '^ready' "$work/waiters.out" || say "row 7: $n waiters did not start"
            fi
            hal_cmd setp microkernel.update.tmax 0
            # the window: every cycle's .time (CPU clocks), then HAL's tmax
            hal_cmd setp sampler.0.enable 1
            timeout $(( WAIT_S + 30 )) halsampler -n $(( WAIT_S * 1000 )) \
                >"$work/wtime.$mode.$n" 2>>"$log" </dev/null
            hal_cmd setp sampler.0.enable 0
            tmax=$(halcmd -s getp microkernel.update.tmax 2>>"$log" </dev/null)
            awk 'NF >= 1 && $1 ~ /^[0-9]/ { print $1 }' "$work/wtime.$mode.$n" >"$work/wt.$mode.$n"
            if [ $n = 1000 ]; then
                # the servo thread only (not -f: rtapi_app's other threads
                # are not realtime), with the waiters and a writer (root's
                # tools channel, 4 pins a transaction, back to back)
                tid=$(servo_tid)
                timeout $(( STRACE_S + 5 )) strace -qq -c -o "$work/strace.$mode.txt" -p "$tid" \
                    >>"$log" 2>&1 &
                spid=$!
                "$build/writerate" 4 "$STRACE_S" >>"$log" 2>&1   # the window strace watches
                kill -INT "$spid" 2>/dev/null
                wait "$spid" 2>/dev/null
            fi
            wakes=0
            if [ -n "$wpid" ]; then
                kill -TERM "$wpid"; wait "$wpid" 2>/dev/null
                wakes=$(awk '$1 == "wakes" { print $2 }' "$work/waiters.out")
            fi
            read -r cnt med p99 mn mx < <(stats "$work/wt.$mode.$n" \
                "$(awk -v h="$tsc_hz" 'BEGIN { print (h > 0 ? h / 1e9 : 1) }')")
            row 7 "bridge cost, a pin changing every cycle, $n waiting threads" "$how" \
                "$(fmt "$med") ns" \
                "p99 $(fmt "$p99") ns, HAL's .tmax $(fmt "$(clocks_ns "${tmax:-0}")") ns; $(awk -v w="${wakes:-0}" -v s="$WAIT_S" 'BEGIN { printf "%.0f", w / s }') wake-ups/s seen by the waiters" \
                "${cnt:-0} cycles (\`.time\`, TSC → ns)"
        done
        [ $mode = relay ] && daemon_stop
    done
    for mode in relay none; do
        if [ -s "$work/strace.$mode.txt" ]; then
            # strace -c: "% time seconds usecs/call calls [errors] syscall"
            calls=$(awk 'NR > 2 && $1 !~ /^-/ && $NF != "total" { printf "%s%s × %s", s, $NF, $4; s = ", " }' "$work/strace.$mode.txt")
            row 7 "servo thread's system calls, 1000 waiting threads and a writer, $([ $mode = relay ] && echo 'daemon running' || echo 'no daemon')" \
                "\`strace -c -p\` on rtapi_app's servo thread" "${calls:-none}" \
                "siggen changes a pin every cycle; \`writerate 4\` commits back to back; clock_nanosleep is rtapi's own wait for the next period" "${STRACE_S} s"
            cp "$work/strace.$mode.txt" "${out%.md}.strace-$mode.txt" 2>/dev/null
        else
            not_measured 7 "servo thread's system calls ($mode)" "strace gave nothing (is strace installed?)"
        fi
    done
fi
stop_hal

# ---- plot ---------------------------------------------------------------------------------------
plotted=0
cdf() { sort -g "$1" | awk -v d="$2" '{ v[n++] = $1 / d } END { for (i = 0; i < n; i++) print v[i], (i + 1) / n }'; }
if command -v gnuplot >/dev/null; then
    for f in hmk py1 py10 sampler; do
        [ -s "$work/lat.$f" ] && cdf "$work/lat.$f" 1000 >"$work/cdf.$f" || : >"$work/cdf.$f"
    done
    [ -s "$work/rt.ns" ] && cdf "$work/rt.ns" "$PERIOD_NS" >"$work/cdf.rt" || : >"$work/cdf.rt"
    [ -s "$work/restart.ns" ] && cdf "$work/restart.ns" 1000 >"$work/cdf.restart" || : >"$work/cdf.restart"
    [ -s "$work/shloop.ns" ] && cdf "$work/shloop.ns" 1000 >"$work/cdf.shloop" || : >"$work/cdf.shloop"
    cat >"$work/plot.gp" <<GP
set terminal pngcairo size 1500,480 font ",10" noenhanced
set output "$plot"
set multiplot layout 1,3 title "hal-microkernel bench, $(date -u +%F), $cpu, $rt"
set grid
set key below
set ylabel "fraction of samples ≤ x"
set yrange [0:1]
set logscale x
set title "HAL change → observer sees it: latency, µs (log)"
plot "$work/cdf.hmk" w l lw 2 t "hmk_wait (futex)", \
     "$work/cdf.py1" w l lw 2 t "Python hal.component, 1 ms poll", \
     "$work/cdf.py10" w l lw 2 t "Python hal.component, 10 ms poll", \
     "$work/cdf.sampler" w l lw 2 t "sampler + halsampler"
unset logscale x
set title "round trip service → out → net → in → service, servo periods"
plot "$work/cdf.rt" w l lw 2 t "libhalmk write + hmk_wait"
set title "restart: child exit → new child's main(), µs"
plot "$work/cdf.restart" w l lw 2 t "hal-microkernel daemon", \
     "$work/cdf.shloop" w l lw 2 t "shell loop (no supervisor)"
unset multiplot
GP
    gnuplot "$work/plot.gp" 2>>"$log" && plotted=1
fi

# ---- the table ------------------------------------------------------------------------------------
{
    echo "# hal-microkernel benchmark results"
    echo
    echo "Generated by \`bench/run.sh\`; do not edit by hand. Every row below was measured in"
    echo "the same run on the machine described here."
    echo
    echo "- Command: \`$cmdline\`$([ $quick -eq 1 ] && echo ' (smoke run: tiny counts, numbers indicative only)')"
    echo "- Date: $(date -u '+%F %T UTC')"
    echo "- CPU: $cpu, $(nproc) CPUs online; TSC $(awk -v h="$tsc_hz" 'BEGIN { printf "%.0f MHz", h / 1e6 }') (measured)"
    echo "- Kernel: $(uname -r) ($rt)"
    echo "- LinuxCNC: linuxcnc-uspace $lcnc, HAL in ${hal_mode:-unknown} mode; servo-thread period $(( PERIOD_NS / 1000 )) µs"
    echo "- Load average when the run started: $load0 (other work on the machine shows up in every row)"
    echo "- Build: $build (CMAKE_BUILD_TYPE=${build_type:-none})"
    echo
    echo "| # | measurement | how | median | spread | samples |"
    echo "|---|---|---|---|---|---|"
    sort -s -t "|" -k2,2n "$rows"
    echo
    [ $plotted -eq 1 ] && echo "![latency distributions]($(basename "$plot"))" && echo
    cat <<'NOTES'
## How each row is measured

1. **Write path.** `bench/writerate` commits transactions of 1, 16 or 256 float out
   pins back to back through libhalmk for a fixed time (one process, one region
   handle); a pin write is one committed value (the bridge applies the latest
   values to HAL once per servo cycle). `halcmd setp`: one `halcmd` process per
   write, timed from fork to exit, as shell scripts do it. `halcmd -f`: one
   process running a file of `setp` lines; rate = lines / wall time.
2. **HAL → service latency.** One clock for every observer: the benchmark-only
   realtime component `bench/edgestamp.c` (first in the servo thread) changes
   the float pin `edgestamp.stamp` every 10–30 cycles (pseudo-random spacing)
   to the `CLOCK_MONOTONIC` nanosecond of the change. Each observer records its
   own `CLOCK_MONOTONIC` when it sees a new value, minus that value.
   hal-microkernel: `bench/wakelat -s` blocked in `hmk_wait` on the bridge pin
   the stamp is netted to. Python: `bench/pylat.py`, a `hal.component` with an
   in pin netted to the stamp, read in a `time.sleep(period)` loop
   (`/usr/bin/python3`). halsampler: `sampler` (after the bridge in the same
   thread) samples the stamp every cycle into its FIFO; `halsampler` (stdout
   line-buffered with `stdbuf -oL`, its best case) pipes the lines to
   `bench/pipelat`, which timestamps each line as it arrives. The observers run
   one after the other, each for the same time.
3. **Round trip.** `bench/roundtrip` writes a new value to the bridge's out pin
   `loop.out`, which HAL `net`s to the in pin `loop.in`, and blocks in
   `hmk_wait` until the bridge publishes that value; time from before the
   commit to the wake-up, divided by the servo period. A pseudo-random 0–1 ms
   pause between round trips spreads the commits over the servo cycle.
4. **Bridge cost.** A HAL with only `microkernel.update` (`count=N` float slots,
   pins unconnected), the baseline `bench/copybase.c` (`count=N`: copies N float
   in pins to N out pins, no region) and `sampler` in the servo thread.
   `halsampler` records HAL's own `microkernel.update.time` and
   `copybase.copy.time` pins every cycle; in uspace these count CPU clocks
   (`rtapi_get_clocks()` is `rdtsc`), converted to ns with the TSC rate measured
   against `CLOCK_MONOTONIC` (`bench/execns --tsc`). The bridge's own
   measurement (`exec_ns_last` of `hmk_stats`, `CLOCK_MONOTONIC` around its
   work, which leaves out HAL's call overhead) is sampled by `bench/execns`
   during the same cycles (it polls every 250 µs and keeps one value per cycle).
5. **Idle cost.** The daemon (heartbeat every 100 ms) with `pinlog`,
   `spindle-hours` and `filefeed` running and no pin changing (the stamp
   generator is removed from the thread), next to a Python `hal.component` in a
   10 ms `time.sleep` loop, over the same windows. CPU time of every thread of
   each process from `/proc/PID/task/*/schedstat` (ns on a CPU) / wall time;
   RSS is `VmRSS` from `/proc/PID/status`; private memory is
   `Private_Clean + Private_Dirty` from `/proc/PID/smaps_rollup` (RSS minus the
   pages shared with other processes, such as libc, but counting the program's
   own code, which no other process maps); own memory is `RssAnon` (anonymous
   pages only: heap, stacks, the libraries' relocated and written data). The
   daemon speaks the service manager's notification protocol itself
   (daemon/notify.c) instead of linking libsystemd, whose dependencies
   (libgcrypt, liblz4, libzstd, liblzma, libcap, libgpg-error) were half of
   its own memory.
7. **Waiters.** A HAL with `siggen` (its sine netted to `microkernel.pin.0.in`,
   so a pin changes in every cycle) and the bridge; `bench/waiters N` starts N
   threads of one read-only client, each blocked in `hmk_wait_change` in a loop.
   For N = 0, 1, 100, 1000, with the daemon (its relay thread wakes the
   waiters: the bridge makes one `FUTEX_WAKE` of one thread per changing
   cycle) and without (nobody wakes them: they look every 10 ms, and the
   bridge makes no system call at all), `halsampler` records HAL's own
   `microkernel.update.time` every cycle of the window (CPU clocks → ns with
   the measured TSC rate: median and p99), and HAL's `.tmax`, reset before
   the window, is read after it (on a kernel without PREEMPT_RT the maximum
   is mostly the thread being preempted, whatever the bridge does). The
   last rows list every system call `strace -c` saw the servo thread make
   with 1000 waiters and a writer committing back to back
   (`bench/writerate`), with and without the daemon (a traced thread runs
   slower: those windows are not in the rows above).
6. **Supervision.** The daemon supervises `bench/crashsvc` (restart = always,
   backoff 0, no crash limit), which appends `start <CLOCK_MONOTONIC ns>` as
   the first thing in `main()`, then `exit <ns>`, and exits with status 1.
   Restart latency = next start − exit: the child's exit, the daemon's reaping
   and restart decision, fork, exec and the dynamic loader. Baseline: the same
   program restarted by a bash loop, the floor of exit + fork + exec here.
NOTES
} >"$out.tmp" && mv "$out.tmp" "$out"
cat "$out"
[ $failed -eq 0 ] || say "some rows were not measured (work directory $work)"
exit $failed
