#!/bin/bash
# bench/supervisors.sh [--quick] [BUILD_DIR] - the daemon's supervision beside
# runit's runsv and s6's s6-supervise (Debian's runit and s6, installed by
# scripts/deps.sh), in the same run, on the same crashing program
# (bench/crashsvc: stamps "start" first thing in main(), lives LIVE ms,
# stamps "exit", exits 1), and beside the floor: a bash loop restarting it.
#
# Per supervisor and LIVE: restart latency = next start - exit (the child's
# exit, the supervisor's reaping and decision, fork, exec, the loader), p50
# and p99 over N restarts. LIVE = 1100 ms is past runsv's and
# s6-supervise's 1 s hold-back of short runs, so it times their restart
# itself; LIVE = 0 shows that hold-back. Then, with one service up and idle:
# the supervisor's VmRSS and RssAnon, the mean over M fresh starts (where
# the loader puts libc, random per start, decides how much of it the
# kernel's 64 KiB fault-around maps: two starts of one binary differ by up
# to ~150 KiB, more than the supervisors differ), and its wake-ups per
# minute (voluntary context switches over the window, scaled). hal-microkernel's
# idle is measured without a region (nothing to do) and with one attached
# (its heartbeat, heartbeat-period 1 s by default).
#
# N = 20, M = 10 (--quick: 5, 3); about 4 minutes (--quick: 1). --plot FILE.png: the
# restart latency distributions of every row, one panel per LIVE (gnuplot;
# bench/run.sh installs gnuplot-nox).
set -u
quick=0 plot=
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1 ;;
        --plot) plot=$2; shift ;;
        *) break ;;
    esac
    shift
done
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
crash=$build/crashsvc daemon=$build/daemon/hal-microkernel rtool=$build/daemon/hmk-test-region
for f in "$crash" "$daemon" "$rtool"; do [ -x "$f" ] || { echo "missing $f (build first)" >&2; exit 1; }; done
for f in runsv sv s6-supervise s6-svc; do
    command -v "$f" >/dev/null || { echo "no $f: scripts/deps.sh installs runit and s6" >&2; exit 1; }
done
if [ $quick = 1 ]; then N=5 M=3 IDLE_S=5; else N=20 M=10 IDLE_S=15; fi
T=$(mktemp -d /tmp/hmk-bench-sup.XXXXXX)
REGION=hmk-bench-sup-$$
SPID=
cleanup() {
    set +e # what already went must not end the cleanup
    [ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null
    pkill -KILL -f "^$crash" 2>/dev/null
    "$rtool" detach "$REGION" >/dev/null 2>&1
    rm -f "/dev/shm/$REGION" "/dev/shm/$REGION".* "/dev/shm/.$REGION".*
    rm -rf "$T"
}
trap cleanup EXIT

starts() { awk '/^start/ { n++ } END { print n + 0 }' "$1" 2>/dev/null || echo 0; }
# wait_starts LOG WANT SECONDS
wait_starts() {
    local end=$(( $(date +%s) + $3 ))
    until [ "$(starts "$1")" -ge "$2" ]; do
        [ "$(date +%s)" -le "$end" ] || return 1
        sleep 0.05
    done
}
# latencies LOG: "p50 p99 count" in µs
latencies() {
    awk '$1 == "exit" { e = $2 } $1 == "start" && e { print ($2 - e) / 1000; e = 0 }' "$1" | sort -g |
        awk '{ v[n++] = $1 } END { if (!n) { print "- - 0"; exit }
                p = int((n * 99 + 99) / 100) - 1; printf "%.0f %.0f %d\n", v[int(n / 2)], v[p], n }'
}
mem() { awk '/^VmRSS/ { r = $2 } /^RssAnon/ { a = $2 } END { print r, a }' "/proc/$1/status"; }
wakes() { awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$1/status"; }
# idle PID: wake-ups per minute over IDLE_S seconds
idle() {
    local w0 w1
    w0=$(wakes "$1"); sleep "$IDLE_S"; w1=$(wakes "$1")   # the measurement window
    echo $(( (w1 - w0) * 60 / IDLE_S ))
}
rows=$T/rows
curves=() # "LOG|LABEL|LIVE" per measured row, for the plot
say() { echo "supervisors: $*" >&2; }

# mem_mean START_CMD STOP_CMD: "VMRSS_MEAN VMRSS_MIN VMRSS_MAX RSSANON_MEAN"
# over M fresh starts, each sampled with its one service up (crashsvc
# pauses in its first run) and the supervisor left 0.3 s to settle
mem_mean() {
    local i out=$T/mem.samples
    : >"$out"
    for i in $(seq "$M"); do
        export CRASHSVC_FILE=$T/mem.log CRASHSVC_N=1 CRASHSVC_LIVE_MS=0
        : >"$CRASHSVC_FILE"
        "$1"
        if wait_starts "$CRASHSVC_FILE" 1 30; then
            sleep 0.3 # settling, part of the measurement: not a wait for an event
            mem "$SPID" >>"$out"
        fi
        "$2"
    done
    awk '{ r += $1; a += $2; if (!n++ || $1 < lo) lo = $1; if ($1 > hi) hi = $1 }
         END { if (!n) print "- - - -"; else printf "%.0f %d %d %.0f\n", r / n, lo, hi, a / n }' "$out"
}

# measure NAME LIVE START_CMD STOP_CMD: start the supervisor (START_CMD
# sets SPID), time N restarts; the N+1-th run stays up (crashsvc pauses)
measure() {
    local name=$1 live=$2 log=$T/$1-$2.log lat mr idl mm
    : >"$log"
    export CRASHSVC_FILE=$log CRASHSVC_N=$((N + 1)) CRASHSVC_LIVE_MS=$live
    "$3"
    if ! wait_starts "$log" $((N + 1)) $(( N * (live + 1200) / 1000 + 30 )); then
        say "$name, LIVE $live: only $(starts "$log") starts"
        "$4"; return
    fi
    read -r -a lat < <(latencies "$log")
    curves+=("$log|$name|$live")
    if [ "$live" -gt 0 ]; then
        idl=$(idle "$SPID")
        "$4"
        read -r -a mm < <(mem_mean "$3" "$4")
        echo "| $name | $live ms | ${lat[2]} | ${lat[0]} | ${lat[1]} | ${mm[0]} (${mm[1]}–${mm[2]}) | ${mm[3]} | $idl |" >>"$rows"
    else
        echo "| $name | $live ms | ${lat[2]} | ${lat[0]} | ${lat[1]} | | | |" >>"$rows"
        "$4"
    fi
}

# hal-microkernel
hmk_start() {
    cat >"$T/hmk.ini" <<INI
[daemon]
region = $REGION
control-socket = $T/ctl
log-level = err

[service crash]
exec = $crash $CRASHSVC_FILE $CRASHSVC_N $CRASHSVC_LIVE_MS
restart = always
backoff-initial = 0
backoff-factor = 1
backoff-max = 0
crash-limit = none
INI
    "$daemon" -c "$T/hmk.ini" 2>>"$T/hmk.err" & SPID=$!
}
hmk_stop() { kill -TERM "$SPID"; wait "$SPID" 2>/dev/null; SPID=; }
# runit: ./run is crashsvc itself
runit_start() {
    rm -rf "$T/runit"; mkdir -p "$T/runit"; ln -s "$crash" "$T/runit/run"
    runsv "$T/runit" 2>>"$T/runit.err" & SPID=$!
}
runit_stop() { sv force-shutdown "$T/runit" >/dev/null 2>&1; sv exit "$T/runit" >/dev/null 2>&1; wait "$SPID" 2>/dev/null; SPID=; }
# s6
s6_start() {
    rm -rf "$T/s6"; mkdir -p "$T/s6"; ln -s "$crash" "$T/s6/run"
    s6-supervise "$T/s6" 2>>"$T/s6.err" & SPID=$!
}
s6_stop() { s6-svc -dx "$T/s6" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=; }

for live in 1100 0; do
    say "hal-microkernel, LIVE $live"; measure "hal-microkernel" "$live" hmk_start hmk_stop
    say "runsv, LIVE $live"; measure "runit runsv $(dpkg-query -W -f '${Version}' runit)" "$live" runit_start runit_stop
    say "s6-supervise, LIVE $live"; measure "s6 s6-supervise $(dpkg-query -W -f '${Version}' s6)" "$live" s6_start s6_stop
    # the floor: no supervisor, a shell loop
    say "bash loop, LIVE $live"
    : >"$T/bash-$live.log"
    for i in $(seq $((N + 1))); do "$crash" "$T/bash-$live.log" 1000000000 "$live"; done 2>/dev/null
    read -r -a lat < <(latencies "$T/bash-$live.log")
    curves+=("$T/bash-$live.log|bash loop (the floor)|$live")
    echo "| bash \`for ...; do svc; done\` (the floor) | $live ms | ${lat[2]} | ${lat[0]} | ${lat[1]} | | | |" >>"$rows"
done

# hal-microkernel idle with a region attached: its heartbeat
say "hal-microkernel idle with a region"
"$rtool" create "$REGION" 1 || { echo "region" >&2; exit 1; }
export CRASHSVC_FILE=$T/idle.log CRASHSVC_N=1 CRASHSVC_LIVE_MS=0
: >"$CRASHSVC_FILE"
hmk_start
wait_starts "$CRASHSVC_FILE" 1 30 || { echo "idle service did not start" >&2; exit 1; }
sleep 2 # attached and settled: a measurement starts after it, not a wait for it
mr=$(mem "$SPID") idl=$(idle "$SPID")
echo "| hal-microkernel, region attached (heartbeat 1 s) | idle | | | | ${mr% *} (one start) | ${mr#* } | $idl |" >>"$rows"
hmk_stop

# the plot: per LIVE, each row's restart latencies as a distribution
if [ -n "$plot" ] && command -v gnuplot >/dev/null; then
    k=0
    for live in 1100 0; do
        cmd=
        for c in "${curves[@]}"; do
            IFS='|' read -r log label l <<<"$c"
            [ "$l" = "$live" ] || continue
            k=$((k + 1)) f=$T/cdf.$k
            awk '$1 == "exit" { e = $2 } $1 == "start" && e { print ($2 - e) / 1000; e = 0 }' "$log" |
                sort -g | awk '{ v[n++] = $1 } END { for (i = 0; i < n; i++) print v[i], (i + 1) / n }' >"$f"
            cmd="$cmd${cmd:+, }\"$f\" w lp lw 2 pt 7 ps 0.5 t \"${label//\"/}\""
        done
        echo "set title \"restart, child exit → new child's main(), µs (log); the run lives $live ms\""
        echo "plot $cmd"
    done >"$T/panels.gp"
    {
        echo "set terminal pngcairo size 1200,480 font \",10\" noenhanced"
        echo "set output \"$plot\""
        echo "set multiplot layout 1,2 title \"bench/supervisors.sh, $(date -u +%F), $(nproc) CPUs, $(uname -r)\""
        echo "set grid; set key below; set logscale x; set yrange [0:1]; set ylabel \"fraction of restarts ≤ x\""
        cat "$T/panels.gp"
        echo "unset multiplot"
    } >"$T/plot.gp"
    gnuplot "$T/plot.gp" 2>&1 | head -5 >&2
    [ -s "$plot" ] && say "plot: $plot"
elif [ -n "$plot" ]; then
    say "no gnuplot: no plot (bench/run.sh installs gnuplot-nox)"
fi

echo
echo "| supervisor | run lives | restarts | restart p50 µs | p99 µs | VmRSS KiB, mean (min–max) of $M starts | RssAnon KiB, mean | idle wake-ups/min |"
echo "|---|---|---|---|---|---|---|---|"
cat "$rows"
echo
echo "restart = child exit → the new child's main(); memory and wake-ups of the supervisor process with one idle service; ${IDLE_S} s idle windows; $(nproc) CPUs; $(uname -r); $(date -u +%F)"
