# svc_lib.sh - helpers for the tests/hal/svc_*/ tests: a real HAL, the
# daemon, and the example services it runs. Sourced, never run.
# Every wait has a deadline; nothing sleeps and hopes.
. "$HMK_TESTLIB"

daemon=$HMK_BIN/daemon/hal-microkernel
ctl=$HMK_BIN/daemon/hal-microkernelctl
svcbin=$HMK_BIN/services
sock=$HMK_WORK/control
[ -x "$daemon" ] && [ -x "$ctl" ] || die "no daemon or control command under $HMK_BIN/daemon"
PY=/usr/bin/python3  # LinuxCNC depends on it

# bridge_load PINS: servo thread and the bridge with the named pins, running.
bridge_load() {
    cat > bridge.hal <<HAL
loadrt threads name1=servo-thread period1=1000000
loadrt hal_microkernel_bridge count=0 pins=$1
addf microkernel.update servo-thread
start
HAL
    hal_load bridge.hal
    wait_cycles 2
}

# bridge_reload PINS: unload and load the bridge again (a LinuxCNC restart,
# as services see it: the region detaches and a new one appears).
bridge_reload() {
    hal_cmd stop
    hal_cmd unload hal_microkernel_bridge || die "unload failed"
    [ ! -e /dev/shm/hal-microkernel ] || die "unload left the region behind"
    halcmd loadrt hal_microkernel_bridge count=0 "pins=$1" >>"$HMK_WORK/hal.log" 2>&1 </dev/null \
        || die "reload failed"
    hal_cmd addf microkernel.update servo-thread
    hal_cmd start
    wait_cycles 2
}

# daemon_ini: the [daemon] section every svc test uses.
daemon_ini() {
    printf '[daemon]\nregion = hal-microkernel\nheartbeat-period = 100ms\n'
    printf 'control-socket = %s\nlog-level = info\n\n' "$sock"
}

# daemon_start INI: check the config, start the daemon; stopped on exit.
daemon_start() {
    "$daemon" -n -c "$1" 2>>daemon.log || die "config check failed: $(tail -n 1 daemon.log)"
    "$daemon" -c "$1" 2>>daemon.log &
    dpid=$!
    trap daemon_stop EXIT
    wait_until 10 test -S "$sock" || die "daemon made no control socket: $(tail -n 5 daemon.log)"
}

# svc_clean: no sanitizer report from any service (an ASan build's services
# would otherwise crash, be restarted, and pass unnoticed).
svc_clean() {
    ! grep -q 'Sanitizer' daemon.log *.err 2>/dev/null || die "sanitizer report: $(grep -h -A5 Sanitizer daemon.log *.err)"
}

daemon_stop() {
    kill -TERM "$dpid" 2>/dev/null || return 0
    wait_until 20 sh -c "! kill -0 $dpid 2>/dev/null" || kill -9 "$dpid" 2>/dev/null
    wait "$dpid" 2>/dev/null
}

# svc_field NAME KEY: one field of the service's status (--json).
svc_field() {
    "$ctl" -s "$sock" --json status "$1" 2>/dev/null |
        $PY -c 'import json,sys; print(json.load(sys.stdin)[0][sys.argv[1]])' "$2"
}

svc_pid() { svc_field "$1" pid; }

# running_new NAME OLDPID: running with a pid other than OLDPID (0: any).
running_new() {
    [ "$(svc_field "$1" state)" = running ] && local p && p=$(svc_pid "$1") \
        && [ "$p" -gt 0 ] && [ "$p" != "$2" ]
}

# wait_running NAME [OLDPID]: wait (10 s) for it; prints the pid.
wait_running() {
    wait_until 10 running_new "$1" "${2:-0}" \
        || die "$1 not running (state $(svc_field "$1" state)): $(tail -n 5 daemon.log)"
    svc_pid "$1"
}

# cpu_ticks PID: utime + stime from /proc, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# wakeups PID: voluntary context switches, i.e. times it slept and woke.
wakeups() { awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$1/status"; }

# idle_cpu PID SECONDS: "TICKS WAKEUPS" that PID used over SECONDS of wall
# time: CPU ticks (utime + stime) and wake-ups, which show a timer that
# ticks even when the CPU it costs rounds to 0.
# (This sleep is the measurement interval, not a wait for a condition.)
idle_cpu() {
    local t0 t1 w0 w1 end
    # settled first: a service just (re)started still arms its wake-up
    # relay; idle is when a whole second passes with at most one wake-up (its
    # 5 s armed-wait cap may fall in it; a timer of 1 Hz or more never lets
    # this happen, and the deadline says so)
    end=$(deadline 30)
    while :; do
        w0=$(wakeups "$1") || die "no process $1"
        sleep 1   # a measurement window, not a wait
        w1=$(wakeups "$1") || die "process $1 died"
        [ $(( w1 - w0 )) -le 1 ] && break
        [ "${EPOCHREALTIME//[!0-9]/}" -lt "$end" ] || die "process $1 never idle: $(( w1 - w0 )) wake-ups in its last second"
    done
    t0=$(cpu_ticks "$1") && w0=$(wakeups "$1") || die "no process $1"
    sleep "$2"
    t1=$(cpu_ticks "$1") && w1=$(wakeups "$1") || die "process $1 died while idle"
    echo $(( t1 - t0 )) $(( w1 - w0 ))
}

# one_line_error WANT_RC CMD...: CMD exits WANT_RC with exactly one line on
# stderr and nothing on stdout; prints that line.
one_line_error() {
    local want=$1 rc; shift
    "$@" >err.out 2>err.txt </dev/null; rc=$?
    [ "$rc" -eq "$want" ] || die "'$*' exited $rc, want $want: $(cat err.txt)"
    [ "$(wc -l <err.txt)" -eq 1 ] && [ ! -s err.out ] || die "'$*' said: $(cat err.out err.txt)"
    cat err.txt
}

# sanitizer_reports: how many sanitizer reports the daemon and services
# logged, as an observation line for checkresult to judge (svc_clean judges
# inline, for the tests not yet in LinuxCNC's shape).
sanitizer_reports() {
    echo "sanitizer reports: $(cat daemon.log *.err 2>/dev/null | grep -c 'Sanitizer')"
    grep -h -A5 Sanitizer daemon.log *.err 2>/dev/null >&2
    return 0
}

# said LABEL CMD...: run CMD and print what it did as one observation line,
# "LABEL: exit RC, N stdout bytes, M stderr lines: STDERR" (its lines joined
# by spaces), for checkresult's want_error (one_line_error judges inline).
said() {
    local label=$1 rc; shift
    "$@" >said.out 2>said.err </dev/null; rc=$?
    echo "$label: exit $rc, $(wc -c <said.out) stdout bytes, $(wc -l <said.err) stderr lines: $(tr '\n' ' ' <said.err | sed 's/ $//')"
}
