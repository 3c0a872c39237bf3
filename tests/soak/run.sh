#!/bin/bash
# tests/soak/run.sh [DURATION] [--fuzz SECONDS] [--build DIR]
#
# The long version of the fault tests (not run in CI): for DURATION (seconds,
# or 10m, 1h; default 1h) a real HAL runs the bridge with
#   - halstress: 3 writers + 2 readers in loopback, writers SIGKILLed at
#     random moments (--kill) and restarted, every out and in snapshot checked,
#   - recchk (tests/fault/writer_killed/recchk.c) checking the record on the
#     HAL pins on every servo cycle,
#   - the daemon with pinlog, spindle-hours, filefeed (fed through its FIFO)
#     and a service that crash-loops for the whole run,
# while services are SIGKILLed at random intervals (each must come back with
# a new pid) and, in the first half only, the daemon itself is SIGKILLed and
# started again as systemd would (it must re-attach to the same region).
# With --fuzz, every fuzzer then runs SECONDS (fuzz/run.sh).
#
# Prints a summary and exits 1 if anything was torn or lost, a check failed,
# the daemon's memory grew by more than 256 KiB or its fd count grew between
# the warm-up after its last start and the end. Root (HAL as RTAPI_UID
# 65534); takes /tmp/hmk-hal.lock for the whole run, like every HAL test.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
dur=3600 fuzz=0 build=${HMK_BIN:-}
while [ $# -gt 0 ]; do
    case $1 in
        --fuzz) fuzz=${2:?--fuzz needs SECONDS}; shift 2 ;;
        --build) build=${2:?--build needs a directory}; shift 2 ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        [0-9]*) dur=$1; shift ;;
        *) echo "soak: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case $dur in
    *[0-9]h) dur=$(( ${dur%h} * 3600 )) ;;
    *[0-9]m) dur=$(( ${dur%m} * 60 )) ;;
    *[0-9]s) dur=${dur%s} ;;
esac
case $dur in ''|*[!0-9]*) echo "soak: bad duration (seconds, Nm or Nh)" >&2; exit 2 ;; esac
[ "$dur" -ge 60 ] || { echo "soak: duration must be at least 60 s" >&2; exit 2; }
case $fuzz in ''|*[!0-9]*) echo "soak: --fuzz '$fuzz': seconds" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "soak: run as root (HAL, SIGKILLs, module install)" >&2; exit 2; }

work=$(mktemp -d /tmp/hmk-soak.XXXXXX)
die() { echo "soak: FAIL: $*" >&2; echo "soak: logs in $work" >&2; exit 1; }
log() { printf '%s soak: %s\n' "$(date +%T)" "$*"; }

# ---- build ----------------------------------------------------------------
if [ -z "$build" ]; then
    build=$src/build/soak
    "$src/scripts/deps.sh" >"$work/deps.log" 2>&1 || die "scripts/deps.sh failed (see $work/deps.log)"
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$work/build.log" 2>&1 \
        && cmake --build "$build" -j"$(nproc)" >>"$work/build.log" 2>&1 \
        || die "build failed (see $work/build.log)"
fi
cmake --build "$build" --target install-bridge >>"$work/build.log" 2>&1 || die "install-bridge failed"
export PATH=$build:$build/daemon:$PATH
export RTAPI_UID=${RTAPI_UID:-65534} RTAPI_FIFO_PATH=${RTAPI_FIFO_PATH:-/tmp/hmk-rtapi-fifo}
ctl_bin=$build/daemon/hal-microkernelctl daemon_bin=$build/daemon/hal-microkernel
svcbin=$build/services sock=$work/control

# ---- helpers --------------------------------------------------------------
hal() { halcmd "$@" 2>>"$work/hal.log" </dev/null; }
getp() { halcmd -s getp "$1" 2>>"$work/hal.log" </dev/null; }
wait_until() {  # SECONDS COMMAND...
    local end=$(( $(date +%s%N) + $1 * 1000000000 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s%N)" -lt "$end" ] || return 1
        sleep 0.02
    done
}
field() {  # SERVICE KEY: from --json status
    "$ctl_bin" -s "$sock" --json status "$1" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0][sys.argv[1]])' "$2" 2>/dev/null
}
running_new() { [ "$(field "$1" state)" = running ] && local p && p=$(field "$1" pid) && [ "$p" -gt 0 ] && [ "$p" != "$2" ]; }
connected() { [ "$(getp microkernel.connected)" = TRUE ]; }
rss() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
nfd() { ls "/proc/$1/fd" | wc -l; }

dpid= fpid= spid= rtlib=
cleanup() {
    [ -n "$spid" ] && kill "$spid" 2>/dev/null
    [ -n "$fpid" ] && kill "$fpid" 2>/dev/null
    [ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
    halrun -U >>"$work/hal.log" 2>&1 </dev/null
    [ -n "$rtlib" ] && rm -f "$rtlib/recchk.so"
}
trap cleanup EXIT
exec 9>/tmp/hmk-hal.lock
log "waiting for the HAL lock"
flock 9
halrun -U >>"$work/hal.log" 2>&1 </dev/null
cd "$work" || exit 1

# ---- HAL ----------------------------------------------------------------
cp "$src/tests/fault/writer_killed/recchk.c" . && halcompile --compile recchk.c >>"$work/build.log" 2>&1 \
    || die "halcompile recchk.c failed"
rtlib=$(printf 'include %s\nprint:\n\t@echo $(RTLIBDIR)\n' "$(halcompile --print-modinc)" | make -s -f - print)
cp recchk.so "$rtlib/" || die "cannot install recchk.so"
{
    echo "loadrt threads name1=servo-thread period1=1000000"
    echo "loadrt hal_microkernel_bridge count=8 pins=spin:bit:in,hours:float:out,feed:float:out,feedback:float:in"
    echo "loadrt recchk count=8"
    echo "loadrt siggen"
    echo "addf siggen.0.update servo-thread"
    echo "addf microkernel.read servo-thread"
    echo "addf microkernel.write servo-thread"
    echo "addf recchk.check servo-thread"
    echo "setp siggen.0.frequency 0.2"
    echo "net spin siggen.0.clock => microkernel.spin"
    echo "net feedback microkernel.feed => microkernel.feedback"
    for i in 0 1 2 3 4 5 6 7; do
        echo "net loop$i microkernel.pin.$i.out => microkernel.pin.$i.in recchk.in.$i"
    done
    echo "start"
} > soak.hal
halcmd -f soak.hal >>"$work/hal.log" 2>&1 </dev/null || die "HAL did not start (see $work/hal.log)"

# ---- daemon and services ------------------------------------------------------
svc() {  # NAME EXEC WRITES
    printf '[service %s]\nexec = %s\nrestart = always\nbackoff-initial = 100ms\nbackoff-max = 1s\n' "$1" "$2"
    printf 'crash-limit = none\nwrites = %s\nenv = PATH=%s:/usr/bin:/bin\n' "$3" "$svcbin"
    [ "$1" = crashloop ] || printf 'ready = fd\n'
    echo
}
{
    printf '[daemon]\nregion = hal-microkernel\nheartbeat-period = 100ms\n'
    printf 'control-socket = %s\nlog-level = info\n\n' "$sock"
    svc pinlog "pinlog --out $work/pins.jsonl --max-bytes 4194304 --keep 2 spin feedback" none
    svc spindle-hours "spindle-hours --run spin --total hours --state $work/hours.state --save-s 5" hours
    svc filefeed "filefeed --from $work/feed --mkfifo --to feed --delay-ms 0" feed
    svc crashloop "/bin/sh -c 'exit 3'" none
} > soak.ini
"$daemon_bin" -n -c soak.ini >>daemon.log 2>&1 || die "config check failed: $(tail -n 1 daemon.log)"
daemon_start() {
    "$daemon_bin" -c soak.ini 2>>daemon.log &
    dpid=$!
    wait_until 10 connected || die "daemon did not connect: $(tail -n 3 daemon.log)"
    for s in pinlog spindle-hours filefeed; do
        wait_until 10 running_new "$s" 0 || die "$s not running after the daemon started"
    done
}
daemon_start
gen0=$(halpoke --list | awk 'NR == 1 { print $6 }' | tr -d ,)

# filefeed's producer: a number a second into its FIFO
( i=0; while :; do timeout 2 sh -c "echo $i.5 > $work/feed" 2>/dev/null; i=$((i + 1)); sleep 1; done ) &
fpid=$!

# ---- load -------------------------------------------------------------------
c0=$(printf '%d' "$(getp microkernel.update-count)")
hal setp microkernel.write.tmax 0
halstress -w 3 -r 2 --loopback --pins pin.0,pin.1,pin.2,pin.3,pin.4,pin.5,pin.6,pin.7 \
    --rate 2000 --kill 2 -d "$dur" -i 60 > stress.out 2> stress.err &
spid=$!
t0=$(date +%s)
log "running ${dur} s: HAL + bridge + daemon + 4 services + halstress (kills writers 2/s); logs in $work"

# ---- random kills -----------------------------------------------------------
warm=10
base_t=$(( t0 + warm )) base_rss= base_anon= base_fd=
svc_kills=0 svc_restarts=0 daemon_kills=0
sample_base() { base_rss=$(rss "$dpid" VmRSS); base_anon=$(rss "$dpid" RssAnon); base_fd=$(nfd "$dpid"); }
while [ $(( $(date +%s) - t0 )) -lt $(( dur - 15 )) ]; do
    [ -z "$base_rss" ] && [ "$(date +%s)" -ge "$base_t" ] && sample_base
    sleep "$(( RANDOM % 8 + 2 )).$(( RANDOM % 10 ))"
    kill -0 "$spid" 2>/dev/null || die "halstress ended early: $(tail -n 3 stress.err)"
    if [ $(( RANDOM % 10 )) = 0 ] && [ $(( $(date +%s) - t0 )) -lt $(( dur / 2 )) ]; then
        kill -9 "$dpid"; wait "$dpid" 2>/dev/null
        daemon_kills=$((daemon_kills + 1))
        daemon_start
        gen=$(halpoke --list | awk 'NR == 1 { print $6 }' | tr -d ,)
        [ "$gen" = "$gen0" ] || die "daemon re-attached to another region ($gen0 -> $gen)"
        # as an integrator's reset button would: a rising edge, then release
        hal setp microkernel.fault-reset 1
        wait_until 5 sh -c '[ "$(halcmd -s getp microkernel.fault)" = FALSE ]' \
            || die "fault latch did not reset after the daemon came back"
        hal setp microkernel.fault-reset 0
        base_t=$(( $(date +%s) + warm )) base_rss=
    else
        set -- pinlog spindle-hours filefeed
        shift $(( RANDOM % 3 ))
        p=$(field "$1" pid)
        [ -n "$p" ] && [ "$p" -gt 0 ] || continue
        kill -9 "$p" && svc_kills=$((svc_kills + 1))
        wait_until 15 running_new "$1" "$p" || die "$1 did not come back after SIGKILL"
        svc_restarts=$((svc_restarts + 1))
    fi
done
[ -n "$base_rss" ] || sample_base
wait "$spid"; src_rc=$?; spid=
end_rss=$(rss "$dpid" VmRSS) end_anon=$(rss "$dpid" RssAnon) end_fd=$(nfd "$dpid")
c1=$(printf '%d' "$(getp microkernel.update-count)")
tmax=$(getp microkernel.write.tmax)
mhz=$(awk -F: '/^cpu MHz/ { print $2; exit }' /proc/cpuinfo)
hal_torn=$(getp recchk.torn) hal_checked=$(getp recchk.checked) hal_changes=$(getp recchk.changes)
crash_restarts=$(field crashloop restarts)
pinlines=$(cat pins.jsonl* 2>/dev/null | wc -l)
kill "$fpid" 2>/dev/null; fpid=

sv() { awk -v k="$1" '$1 == k { print $2 }' stress.out; }
fail=
[ "$src_rc" = 0 ] || fail="$fail halstress-exit-$src_rc"
[ "$(sv torn)" = 0 ] || fail="$fail torn"
[ "$(sv lost)" = 0 ] && [ "$(sv backwards)" = 0 ] || fail="$fail lost"
[ "$hal_torn" = 0 ] || fail="$fail hal-torn"
[ $(( end_anon - base_anon )) -le 256 ] || fail="$fail daemon-memory-grew"
[ "$end_fd" -le "$base_fd" ] || fail="$fail daemon-fds-grew"
[ $(( c1 - c0 )) -ge $(( dur * 900 )) ] || fail="$fail bridge-missed-cycles"
grep -q Sanitizer daemon.log && fail="$fail sanitizer"

fz=
if [ "$fuzz" -gt 0 ]; then
    log "fuzzing: every fuzzer for $fuzz s"
    "$src/fuzz/run.sh" "$fuzz" > fuzz.out 2>&1 || fail="$fail fuzz"
    fz=$(grep -E '^(fuzzer|pinspec|value|region|cfg|ctl) ' fuzz.out | sed 's/^/    /')
fi

cat <<EOF

soak summary ($(uname -r), $(nproc) CPUs, $(date -u +%F\ %T) UTC)
  duration                 ${dur} s
  writes                   $(sv writes)
  reads (out + in)         $(( $(sv reads_out) + $(sv reads_in) ))
  writer kills             $(sv kills) (lock recoveries $(sv writer_recoveries))
  torn / backwards / lost  $(sv torn) / $(sv backwards) / $(sv lost)
  HAL check (recchk)       torn $hal_torn of $hal_checked cycles, $hal_changes records
  service kills            $svc_kills (each back with a new pid: $svc_restarts)
  crash-loop restarts      $crash_restarts (since the daemon's last start)
  daemon kills             $daemon_kills (re-attached to the same region each time)
  daemon VmRSS             $base_rss -> $end_rss KiB (RssAnon $base_anon -> $end_anon KiB)
  daemon open fds          $base_fd -> $end_fd
  (daemon figures: from ${warm} s after its last start to the end)
  bridge cycles            $(( c1 - c0 )) (1 ms thread)
  bridge worst write       $(awk -v c="$tmax" -v m="$mhz" 'BEGIN { printf "%.1f", c / m }') us
  pinlog lines             $pinlines
EOF
[ -n "$fz" ] && printf '  fuzzers:\n%s\n' "$fz"
if [ -n "$fail" ]; then
    echo "result: FAIL:$fail (logs in $work)"
    exit 1
fi
echo "result: PASS"
echo "logs in $work"
