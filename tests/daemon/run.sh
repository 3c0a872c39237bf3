#!/bin/bash
# Integration tests for hal-microkernel: real processes, no HAL.
#   run.sh TEST DAEMON CTL TESTSVC NOTIFY REGIONTOOL
# Each test gets its own temp dir, control socket and region name, so tests
# run in parallel. Waits are on conditions with a deadline, never blind.
# Exit 0 pass, 1 fail, 77 skip.
set -u
TEST=$1 DAEMON=$2 CTL=$3 SVC=$4 NOTIFY=$5 RTOOL=${6:-} QTOOL=${7:-} REACT=${8:-}
# time bounds are SLOW times wider in sanitized builds (see daemon/CMakeLists.txt)
SLOW=1
[ -n "${HMK_SANITIZED:-}" ] && SLOW=4
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/hmk-it-$TEST.XXXXXX)
chmod 755 "$T"
LOG=$T/events.log
DLOG=$T/daemon.log
SOCK=$T/ctl.sock
REGION=hmk-it-$$-$RANDOM
QNAME=it$$
DPID= NPID=
export HMK_TEST_LOG=$LOG
: >"$LOG"

cleanup() {
    [ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
    [ -n "$NPID" ] && kill -TERM "$NPID" 2>/dev/null
    # services are in their own sessions: kill what our test services left
    for p in $(pgrep -f "^$SVC [a-z]" 2>/dev/null); do
        grep -qs "HMK_TEST_LOG=$LOG" /proc/$p/environ && kill -KILL "$p"
    done
    rm -f "/dev/shm/$REGION" "/dev/shm/.$REGION.test" "/dev/shm/$REGION.stream" "/dev/shm/.$REGION.test.stream"
    rm -f /dev/shm/hmkq.$QNAME-*
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    echo "--- daemon log"; cat "$DLOG" 2>/dev/null | tail -n 60
    echo "--- events"; tail -n 40 "$LOG"
    exit 1
}

# within SECONDS CMD...: true as soon as CMD is, false once SECONDS have passed
# (the clock is bash's own: no fork per poll, which counts on a loaded machine)
within() {
    local end=$(( ${EPOCHREALTIME//[!0-9]/} + $1 * 1000000 )); shift
    until "$@"; do
        [ "${EPOCHREALTIME//[!0-9]/}" -gt "$end" ] && return 1
        sleep 0.01
    done
}
# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds.
# SECONDS is about what it takes on a quiet machine; the deadline is 4 times
# that and at least HMK_WAIT_MIN (60) seconds: valgrind or a sanitizer on a
# loaded 2-vCPU VM beside the rest of the suite. A condition wait costs
# nothing when the condition holds, only a failure takes that long.
wait_for() {
    local limit=$(( $1 * 4 )) desc=$2; shift 2
    [ "$limit" -ge "${HMK_WAIT_MIN:-60}" ] || limit=${HMK_WAIT_MIN:-60}
    within "$limit" "$@" || fail "timed out after ${limit}s waiting for: $desc"
}

# conf BODY: daemon section plus services, written to $T/conf.ini
conf() {
    local f=${2:-$T/conf.ini}
    { printf '[daemon]\nregion = %s\ncontrol-socket = %s\nheartbeat-period = 100ms\nlog-level = %s\n' \
        "$REGION" "$SOCK" "${LOGLEVEL:-debug}"; printf '%s\n' "$1"; } |
        sed "s|^\[service .*\]\$|&\nenv = HMK_TEST_LOG=$LOG|" >"$f"
}

start_daemon() {
    "$DAEMON" -c "${1:-$T/conf.ini}" 2>>"$DLOG" &
    DPID=$!
    wait_for 5 "control socket" test -S "$SOCK"
}

stop_daemon() {
    kill -TERM "$DPID"
    local rc=0
    wait "$DPID" || rc=$?
    DPID=
    [ "$rc" = 0 ] || fail "daemon exited $rc after SIGTERM"
}

ctl() { "$CTL" -s "$SOCK" "$@"; }
# field NAME COLUMN: one column of the status table (--json is checked in ctl_perm)
field() {
    local line
    line=$(ctl status "$1" | sed -n 2p) || return 1
    case $2 in
    state) echo "$line" | awk '{print $2}' ;;
    pid) echo "$line" | awk '{print ($3 == "-") ? 0 : $3}' ;;
    restarts) echo "$line" | awk '{print $5}' ;;
    last_exit) echo "$line" | sed -E 's/^([^ ]+ +){5} *//' ;;
    esac
}
state_is() { [ "$(field "$1" state)" = "$2" ]; }
count() { grep -c "^$1 $2 " "$LOG"; }
count_ge() { [ "$(count "$1" "$2")" -ge "$3" ]; }
log_has() { grep -q -- "$1" "$DLOG"; }
zombies_of() { # number of zombie children of pid $1
    local n=0 p
    for p in /proc/[0-9]*; do
        read -r _ _ st pp _ <"$p/stat" 2>/dev/null || continue
        [ "$pp" = "$1" ] && [ "$st" = Z ] && n=$((n + 1))
    done
    echo $n
}
# (a child that just exited is a zombie until the daemon's next loop pass
# reaps it: callers wait for none, and a leaked one never goes)
no_zombies() { [ "$(zombies_of "$DPID")" = 0 ]; }

t_backoff() {
    conf "[service c]
exec = $SVC c crash 0 1
restart = always
backoff-initial = 1s
backoff-factor = 2
backoff-max = 4s
crash-limit = none"
    start_daemon
    wait_for 20 "5 starts" count_ge start c 5
    # delay between crash i and start i+1: 1, 2, 4, 4 s (steps this long
    # leave a second and more for a loaded machine's fork, exec and start-up
    # delay, which was seen to reach 480 ms beside other builds and tests)
    python3 - "$LOG" <<'PY' || fail "backoff delays wrong"
import sys
ev=[l.split() for l in open(sys.argv[1])]
starts=[int(e[3]) for e in ev if e[0]=='start']
crashes=[int(e[3]) for e in ev if e[0]=='crash']
want=[1000,2000,4000,4000]
# each delay is at least its step (5 ms of timer rounding) and short of
# the step after it (twice as long): a loaded machine adds scheduling
# delay, it does not add a whole step; 8000 would be the max not applied
for i,w in enumerate(want):
    d=(starts[i+1]-crashes[i])/1e6
    print("restart %d after %.1f ms (want %d, less than %d)"%(i+1,d,w,2*w-5))
    if not (w-5 <= d < 2*w-5): sys.exit(1)
PY
    stop_daemon
}

t_crash_limit() {
    conf "[service c]
exec = $SVC c crash 0 3
restart = on-failure
backoff-initial = 0
crash-limit = 3 in 60s"
    start_daemon
    wait_for 10 "failed" state_is c failed
    [ "$(count start c)" = 4 ] || fail "expected 4 starts (1 + 3 restarts), got $(count start c)"
    [ "$(field c restarts)" = 3 ] || fail "restarts $(field c restarts) != 3"
    [ "$(field c last_exit)" = "exited 3" ] || fail "last exit: $(field c last_exit)"
    log_has "Service c failed" || fail "failure not logged"
    # left alone: a manual start (also proving it is not dead) is the only way out
    ctl start c >/dev/null || fail "ctl start"
    wait_for 10 "manual start" count_ge start c 5
    wait_for 10 "failed again" state_is c failed
    [ "$(count start c)" = 8 ] || fail "manual start should reset the crash history: $(count start c) starts"
    stop_daemon
}

t_restart_policy() {
    conf "[service no]
exec = $SVC no crash 0 1
restart = no
[service okexit]
exec = $SVC okexit crash 0 0
restart = on-failure
[service badexit]
exec = $SVC badexit crash 0 2
restart = on-failure
backoff-initial = 0
crash-limit = 2 in 60s
[service always]
exec = $SVC always crash 0 0
restart = always
backoff-initial = 0
crash-limit = 2 in 60s"
    start_daemon
    wait_for 10 "no stopped" state_is no stopped
    wait_for 10 "okexit stopped" state_is okexit stopped
    wait_for 10 "badexit failed" state_is badexit failed
    wait_for 10 "always failed" state_is always failed
    [ "$(count start no)" = 1 ] || fail "restart=no restarted"
    [ "$(field no last_exit)" = "exited 1" ] || fail "no: last exit $(field no last_exit)"
    [ "$(count start okexit)" = 1 ] || fail "on-failure restarted a clean exit"
    [ "$(count start badexit)" = 3 ] || fail "on-failure: $(count start badexit) starts, want 3"
    [ "$(count start always)" = 3 ] || fail "always: $(count start always) starts, want 3"
    stop_daemon
}

t_kill200() {
    conf "[service k]
exec = $SVC k run
restart = always
backoff-initial = 0
crash-limit = none"
    start_daemon
    local i pid prev=0
    # one control request per poll (not one per field): 200 rounds of
    # polling are most of what this test costs on a loaded machine
    running_new() { # N: the Nth instance logged its start and runs, pid in $pid
        local line st
        [ "$(count start k)" -ge "$1" ] && line=$(ctl status k) || return 1
        read -r _ st pid _ <<<"${line#*$'\n'}"
        [ "$st" = running ] && [ "$pid" != - ] && [ "$pid" != "$prev" ]
    }
    for i in $(seq 1 200); do
        wait_for 10 "running instance $i" running_new "$i"
        kill -KILL "$pid"
        prev=$pid
    done
    wait_for 10 "201st start" count_ge start k 201
    wait_for 10 "restart count 200" eval '[ "$(field k restarts)" = 200 ]'
    [ "$(count start k)" = 201 ] || fail "starts $(count start k) != 201"
    wait_for 5 "no zombies" no_zombies
    [ "$(field k last_exit)" = "killed by SIGKILL" ] || fail "last exit $(field k last_exit)"
    stop_daemon
}

t_latency() {
    conf "[service l]
exec = $SVC l crash 0 1
restart = always
backoff-initial = 0
crash-limit = none"
    LOGLEVEL=warning
    # the peer, measured in the same run: this shell restarting the same
    # program 30 times (its exit to the next start), which is what a loaded
    # machine slows down just as it slows the daemon
    local i
    for i in $(seq 1 30); do "$SVC" sh crash 0 1; done
    start_daemon
    wait_for 30 "101 starts" count_ge start l 101
    python3 - "$LOG" "$SLOW" <<'PY' || fail "latency"
import sys, statistics
ev=[l.split() for l in open(sys.argv[1])]
def gaps(name, n):
    starts=[int(e[3]) for e in ev if e[0]=='start' and e[1]==name]
    crashes=[int(e[3]) for e in ev if e[0]=='crash' and e[1]==name]
    return [(starts[i+1]-crashes[i])/1e3 for i in range(n)]
d, sh = gaps('l', 100), gaps('sh', 29)
m, msh = statistics.median(d), statistics.median(sh)
# 50 ms on any machine; more only when the shell was that slow too
bound = max(50000 * int(sys.argv[2]), 4 * msh)
print("restart latency over 100 crashes: median %.0f us, min %.0f, max %.0f;"
      " the shell's over 29: median %.0f us; bound %.0f us" % (m, min(d), max(d), msh, bound))
sys.exit(0 if m < bound else 1)
PY
    stop_daemon
}

t_exec_missing() {
    conf "[service m]
exec = /nonexistent/hmk-binary --flag
restart = always
backoff-initial = 0"
    start_daemon
    wait_for 5 "failed" state_is m failed
    [ "$(field m last_exit)" = "exec failed: No such file or directory" ] || fail "last exit: $(field m last_exit)"
    [ "$(field m restarts)" = 0 ] || fail "exec failure was retried"
    log_has "Service m: exec failed: No such file or directory" || fail "not logged"
    [ "$(grep -c 'Started service m' "$DLOG")" = 1 ] || fail "crash loop"
    stop_daemon
}

t_stop_timeout() {
    conf "[service s]
exec = $SVC s ignore-term
stop-timeout = 300ms"
    start_daemon
    wait_for 5 "started" count_ge start s 1
    wait_for 5 "running" state_is s running
    local pid t0 t1
    pid=$(field s pid)
    t0=$(date +%s%N)
    ctl stop s >/dev/null || fail "ctl stop"
    wait_for 5 "stopped" state_is s stopped
    t1=$(date +%s%N)
    [ $(( (t1 - t0) / 1000000 )) -ge 290 ] || fail "stopped before the stop-timeout"
    log_has "Service s did not stop within 300 ms; sending SIGKILL" || fail "no escalation logged"
    [ "$(field s last_exit)" = "killed by SIGKILL" ] || fail "last exit $(field s last_exit)"
    [ ! -e /proc/$pid ] || fail "process still there"
    stop_daemon
}

t_after_order() {
    conf "[service c]
exec = $SVC c ready 50
ready = fd
after = b
[service a]
exec = $SVC a ready 50
ready = fd
[service b]
exec = $SVC b ready 50
ready = fd
after = a"
    start_daemon
    wait_for 10 "c ready" count_ge ready c 1
    local order
    order=$(awk '$1=="start"||$1=="ready"{printf "%s-%s ", $1, $2}' "$LOG")
    [ "$order" = "start-a ready-a start-b ready-b start-c ready-c " ] || fail "start order: $order"
    stop_daemon
    order=$(awk '$1=="stop"{printf "%s ", $2}' "$LOG")
    [ "$order" = "c b a " ] || fail "stop order: $order"
}

t_reload() {
    conf "[service keep]
exec = $SVC keep run
[service change]
exec = $SVC change run
env = X=1
[service gone]
exec = $SVC gone run
[service broken]
exec = /nonexistent/hmk-gone"
    start_daemon
    wait_for 5 "3 running" eval 'state_is keep running && state_is change running && state_is gone running'
    wait_for 5 "broken failed" state_is broken failed
    local keep_pid change_pid
    keep_pid=$(field keep pid); change_pid=$(field change pid)
    conf "[service keep]
exec = $SVC keep run
[service change]
exec = $SVC change run
env = X=2
[service new]
exec = $SVC new run
[service broken]
exec = $SVC broken run"
    kill -HUP "$DPID"
    wait_for 5 "new running" eval 'ctl status new >/dev/null 2>&1 && state_is new running'
    wait_for 5 "gone removed" eval '! ctl status gone >/dev/null 2>&1'
    wait_for 5 "change restarted" eval '[ "$(count start change)" = 2 ] && state_is change running'
    [ "$(count stop gone)" = 1 ] || fail "removed service not stopped"
    [ "$(count stop change)" = 1 ] || fail "changed service not stopped once"
    [ "$(field change pid)" != "$change_pid" ] || fail "changed service kept its pid"
    [ "$(field keep pid)" = "$keep_pid" ] || fail "untouched service was restarted"
    [ "$(count start keep)" = 1 ] && [ "$(count stop keep)" = 0 ] || fail "untouched service touched"
    # a failed service whose configuration was fixed starts again
    wait_for 5 "fixed service running" state_is broken running
    stop_daemon
}

t_reload_bad() {
    conf "[service keep]
exec = $SVC keep run"
    start_daemon
    wait_for 5 "running" state_is keep running
    local pid; pid=$(field keep pid)
    conf "[service keep]
exec = $SVC keep run
[service other]
exec = $SVC other run
bogus-key = 1"
    kill -HUP "$DPID"
    wait_for 5 "rejection logged" log_has "Reload rejected"
    # line 12: 5 [daemon] lines, then each service section gets an env line
    log_has "$T/conf.ini:12: unknown key 'bogus-key' in \[service other\]" || fail "error line not logged"
    ! ctl status other >/dev/null 2>&1 || fail "half-applied"
    [ "$(field keep pid)" = "$pid" ] || fail "running service touched"
    # and a later good reload still works
    conf "[service keep]
exec = $SVC keep run
[service other]
exec = $SVC other run"
    kill -HUP "$DPID"
    wait_for 5 "other running" eval 'ctl status other >/dev/null 2>&1 && state_is other running'
    stop_daemon
}

t_notify() {
    "$NOTIFY" "$T/notify.sock" "$T/notify.out" &
    NPID=$!
    wait_for 5 "notify socket" test -e "$T/notify.out"
    conf "[service a]
exec = $SVC a run"
    NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=200000 start_daemon
    wait_for 5 "READY=1" grep -qx "READY=1" "$T/notify.out"
    wait_for 5 "STATUS" grep -q "^STATUS=1 service: 1 running; region $REGION absent" "$T/notify.out"
    wait_for 5 "3 watchdog pings" eval '[ "$(grep -cx WATCHDOG=1 "$T/notify.out")" -ge 3 ]'
    stop_daemon
    grep -qx "STOPPING=1" "$T/notify.out" || fail "no STOPPING=1"
    # the environment was not handed down to the service
    ! grep -qs NOTIFY_SOCKET "/proc/$(pgrep -f "^$SVC a run" | head -1)/environ" || fail "NOTIFY_SOCKET leaked"
    cat "$T/notify.out"
}

t_ctl_perm() {
    command -v setpriv >/dev/null || { echo "setpriv missing"; exit 77; }
    [ "$(id -u)" = 0 ] || { echo "needs root to switch uid"; exit 77; }
    local gid; gid=$(getent group users | cut -d: -f3)
    conf "[service a]
exec = $SVC a run"
    sed -i "s|^\[daemon\]|[daemon]\ncontrol-mode = 0666\ncontrol-group = users|" "$T/conf.ini"
    start_daemon
    wait_for 5 "running" state_is a running
    local pid out rc; pid=$(field a pid)
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" -s "$SOCK" status a) || fail "status refused: $out"
    echo "$out" | grep -q "^a  *running" || fail "status output: $out"
    rc=0; out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" -s "$SOCK" restart a 2>&1) || rc=$?
    [ "$rc" = 1 ] || fail "unprivileged restart: rc $rc"
    echo "$out" | grep -q "permission denied" || fail "message: $out"
    [ "$(field a pid)" = "$pid" ] || fail "restart happened anyway"
    log_has "Refused 'restart a' from an unprivileged peer" || fail "refusal not logged"
    # a member of control-group (supplementary) may
    setpriv --reuid=65534 --regid=65534 --groups="$gid" "$CTL" -s "$SOCK" restart a >/dev/null || fail "group member refused"
    wait_for 5 "restarted" eval '[ "$(field a pid)" != "$pid" ] && state_is a running'
    ctl --json status | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[0]["name"]=="a" and d[0]["restarts"]==0' || fail "json"
    stop_daemon
}

# Silent peers filling the client table are evicted once they had their
# grace time (5 s), so the socket stays usable.
t_ctl_flood() {
    conf "[service a]
exec = $SVC a run"
    start_daemon
    local out
    # a request cut short by EOF still gets its one error line
    out=$(python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[1])
s.sendall(b"status"); s.shutdown(socket.SHUT_WR); print(s.recv(200).decode(), end="")' "$SOCK")
    [ "$out" = "$(printf 'error\trequest must end with a newline')" ] || fail "EOF mid-request: '$out'"
    # the flood holds until told to let go (or 10 min): however long the
    # wait below takes, the status must get through with the flood there
    python3 - "$SOCK" "$T/flooded" "$T/release" <<'PY' &
import os, socket, sys, time
conns = []
for i in range(40):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    conns.append(s)
open(sys.argv[2], "w").close()
end = time.monotonic() + 600
while not os.path.exists(sys.argv[3]) and time.monotonic() < end:
    time.sleep(0.05)
PY
    local fl=$!
    wait_for 5 "flood connected" test -e "$T/flooded"
    # the table is full of silent peers now: refused at first ...
    out=$(ctl status a 2>&1) && fail "not flooded: $out"
    echo "$out" | grep -q busy || fail "flooded answer: $out"
    # ... and after the grace time a new request gets through
    wait_for 15 "status through the flood" eval 'ctl status a 2>/dev/null | grep -q running'
    kill -0 $fl 2>/dev/null || fail "the flood ended before the status got through"
    touch "$T/release"; wait $fl 2>/dev/null
    stop_daemon
}

t_config_check() {
    "$DAEMON" -n -c "$SRC/configs/hal-microkernel.ini" || fail "example config rejected"
    local out rc
    printf '[daemon]\nregion = x\n[service a]\nexec = /bin/true\nafter = b\n' >"$T/bad.ini"
    rc=0; out=$("$DAEMON" -n -c "$T/bad.ini" 2>&1) || rc=$?
    [ "$rc" = 1 ] && [ "$out" = "$T/bad.ini:5: unknown service 'b' in after" ] || fail "after: rc=$rc '$out'"
    printf '[service a]\nexec = /bin/true\nafter = b\n[service b]\nexec = /bin/true\nafter = a\n' >"$T/bad.ini"
    rc=0; out=$("$DAEMON" -n -c "$T/bad.ini" 2>&1) || rc=$?
    [ "$rc" = 1 ] && [[ "$out" == "$T/bad.ini:"*": dependency cycle in after: "* ]] || fail "cycle: rc=$rc '$out'"
    rc=0; out=$("$DAEMON" -n -c "$T/missing.ini" 2>&1) || rc=$?
    [ "$rc" = 1 ] && [ "$out" = "Failed to open '$T/missing.ini': No such file or directory" ] || fail "missing: '$out'"
    # a second daemon on the same control socket refuses to start
    conf ""
    start_daemon
    rc=0; out=$("$DAEMON" -c "$T/conf.ini" 2>&1) || rc=$?
    [ "$rc" = 1 ] && [ "$out" = "<3>Another hal-microkernel is running on '$SOCK'" ] || fail "second daemon: rc=$rc '$out'"
    ctl status >/dev/null || fail "first daemon lost its socket"
    stop_daemon
    rc=0; out=$("$DAEMON" -n -c "$T/missing.ini" 2>&1) || rc=$?
    [ "$rc" = 1 ] && [ "$out" = "Failed to open '$T/missing.ini': No such file or directory" ] || fail "missing: '$out'"
    # a bad config makes the daemon itself exit 1 with the same line
    rc=0; out=$("$DAEMON" -c "$T/bad.ini" 2>&1) || rc=$?
    [ "$rc" = 1 ] && [[ "$out" == "<3>$T/bad.ini:"* ]] || fail "daemon: rc=$rc '$out'"
}

t_no_region() {
    conf "[service a]
exec = $SVC a env"
    start_daemon
    wait_for 5 "running" state_is a running
    wait_for 5 "waiting logged" log_has "Waiting for region '$REGION' (bridge not loaded)"
    grep -q "^env a .* HAL_MICROKERNEL_REGION=$REGION\$" "$LOG" || fail "region not in the service's env"
    # a foreign object appearing wakes the daemon at once (inotify, no polling)
    printf 'not a region' >"/dev/shm/$REGION"
    wait_for 5 "attach attempt" log_has "Region '$REGION' not ready yet"
    rm -f "/dev/shm/$REGION" "/dev/shm/.$REGION.test" "/dev/shm/$REGION.stream" "/dev/shm/.$REGION.test.stream"
    rm -f /dev/shm/hmkq.$QNAME-*
    # idle: no CPU. utime+stime in clock ticks over 2 s must not move (retry
    # timer gives up after ~10 s, so wait for it first)
    wait_for 20 "retries over" eval '[ "$(grep -c "not ready yet" "$DLOG")" -ge 1 ]'
    local a b
    a=$(awk '{print $14+$15}' /proc/$DPID/stat)
    sleep 2
    b=$(awk '{print $14+$15}' /proc/$DPID/stat)
    [ $((b - a)) -le 1 ] || fail "idle daemon used $((b - a)) ticks in 2 s"
    stop_daemon
}

# The region side without HAL: hmk-test-region plays the bridge.
t_region() {
    conf "[service a]
exec = $SVC a run"
    sed -i "s|^heartbeat-period = .*|heartbeat-period = 50ms\npin-monitor = yes\npin-monitor-rate = 5|" "$T/conf.ini"
    start_daemon
    wait_for 5 "waiting logged" log_has "Waiting for region '$REGION' (bridge not loaded)"
    "$RTOOL" create "$REGION" 4 || fail "create"
    wait_for 5 "attach" log_has "Attached to region '$REGION' (generation [0-9]*, 4 pins)"
    # heartbeat: our pid, and moving
    local hb1 hb2
    wait_for 5 "heartbeat pid" eval '[ "$("$RTOOL" heartbeat "$REGION" | cut -d" " -f1)" = "$DPID" ]'
    hb1=$("$RTOOL" heartbeat "$REGION")
    wait_for 5 "heartbeat moves" eval '[ "$("$RTOOL" heartbeat "$REGION")" != "$hb1" ]'
    # pin monitor: one change, one line
    "$RTOOL" set-in "$REGION" 0 1500
    wait_for 5 "pin-mon line" log_has '\[PIN-MON\] Pin 0 (pin.0) in changed: 0 -> 1500$'
    # a burst above 5 lines/s: bounded, with a summary. One process makes
    # it (8 rounds of pins 1-3, 60 ms apart, spread over heartbeats so each
    # change is seen): its pace does not depend on how long this machine
    # takes to start a process, which on a loaded one let the bucket refill
    local b0 b1
    b0=$(date +%s%N)
    "$RTOOL" burst "$REGION" 8 60 || fail "burst"
    wait_for 5 "suppressed line" log_has '\[PIN-MON\] [0-9]* changes suppressed'
    local n; n=$(grep -c '\[PIN-MON\] Pin' "$DLOG")
    b1=$(date +%s%N)
    # 24 changes; allowed: the first line, a bucket of 5, 5/s refilled over
    # however long the burst took on this machine, one for rounding
    local cap=$(( 1 + 5 + (b1 - b0) * 5 / 1000000000 + 1 ))
    [ "$cap" -lt 24 ] || fail "the burst took $(( (b1 - b0) / 1000000 )) ms: too slow to show a bound"
    [ "$n" -le "$cap" ] || fail "$n pin-mon lines for 24 changes in $(( (b1 - b0) / 1000000 )) ms: not rate-bounded (at most $cap)"
    # the bridge unloads: detach logged once, wait, re-attach to the new one
    "$RTOOL" detach "$REGION" || fail "detach"
    wait_for 5 "detach logged" log_has "Region '$REGION' detached by the bridge"
    "$RTOOL" create "$REGION" 2 || fail "re-create"
    wait_for 5 "re-attach" eval '[ "$(grep -c "Attached to region" "$DLOG")" = 2 ]'
    [ "$(grep -c "detached by the bridge" "$DLOG")" = 1 ] || fail "detach logged more than once"
    hb1=$("$RTOOL" heartbeat "$REGION")
    wait_for 5 "heartbeat on the new region" eval '[ "$("$RTOOL" heartbeat "$REGION")" != "$hb1" ]'
    state_is a running || fail "service disturbed"
    stop_daemon
}

t_double_fork() {
    conf "[service d]
exec = $SVC d double-fork"
    start_daemon
    wait_for 5 "grandchild exit" count_ge grandchild-exit d 1
    wait_for 5 "orphan reaped" log_has "Reaped orphaned process"
    wait_for 5 "no zombies" no_zombies
    state_is d running || fail "service not running"
    stop_daemon
}

t_env_fds() {
    [ "$(id -u)" = 0 ] || { echo "needs root for user = nobody"; exit 77; }
    conf "[service e]
exec = $SVC e env
ready = none
user = nobody
group = nogroup
nice = 5
cpu-affinity = 0
limit-nofile = 64
env = FOO=bar baz
env = LANG=C"
    chmod 666 "$LOG"
    start_daemon
    wait_for 5 "env dumped" count_ge nofile e 1
    local envs; envs=$(awk '$1=="env"{print $5, $6}' "$LOG" | sort | tr '\n' ';')
    [ "$envs" = "FOO=bar baz;HAL_MICROKERNEL_REGION=$REGION ;HMK_TELEMETRY_FD=5 ;HMK_TEST_LOG=$LOG ;LANG=C ;" ] ||
        fail "environment: $envs"
    # 5: its telemetry block; 3 and 4 (ready pipe, channel) stay closed
    grep -q "^fds e [0-9]* [0-9]* 0,1,2,5\$" "$LOG" || fail "fds: $(grep ^fds "$LOG")"
    grep -q "^id e .* uid=65534 gid=65534" "$LOG" || fail "ids: $(grep ^id "$LOG")"
    grep -q "^nice e .* 5\$" "$LOG" || fail "nice"
    grep -q "^affinity e .* 1\$" "$LOG" || fail "affinity"
    grep -q "^nofile e .* 64\$" "$LOG" || fail "nofile"
    stop_daemon
    # with ready = fd the service also gets fd 3 and HMK_READY_FD=3 (no
    # region here, so no channel on 4)
    : >"$LOG"
    conf "[service e]
exec = $SVC e env
ready = fd
writes = pin.0 spindle.speed"
    start_daemon
    wait_for 5 "env dumped" count_ge nofile e 1
    grep -q "^fds e [0-9]* [0-9]* 0,1,2,3,5\$" "$LOG" || fail "fds with ready: $(grep ^fds "$LOG")"
    grep -q "^env e .* HMK_READY_FD=3\$" "$LOG" || fail "HMK_READY_FD"
    grep -q "^env e .* HMK_WRITE_PINS=pin.0,spindle.speed\$" "$LOG" || fail "HMK_WRITE_PINS"
    state_is e starting || fail "a service that never reports ready must stay starting"
    stop_daemon
}

t_unit_verify() {
    command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing"; exit 77; }
    # verify the shipped unit; only ExecStart's path points at this build
    sed "s|/usr/sbin/hal-microkernel|$DAEMON|g" "$SRC/configs/hal-microkernel.service" >"$T/hal-microkernel.service"
    local out
    out=$(cd "$T" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$T/hal-microkernel.service" 2>&1)
    local rc=$?
    echo "$out"
    [ "$rc" = 0 ] || fail "systemd-analyze verify: rc $rc"
    echo "$out" | grep -q "hal-microkernel.service" && fail "warnings about the unit"
    grep -q '^Type=notify$' "$SRC/configs/hal-microkernel.service" || fail "not Type=notify"
    true
}

# A few scenarios again with the daemon under valgrind: any memory error or
# leak makes it exit 42 instead of 0 (pidfds and close_range are unknown to
# valgrind: the daemon falls back to signalling its unreaped children by pid)
t_valgrind() {
    command -v valgrind >/dev/null || { echo "valgrind missing"; exit 77; }
    printf '#!/bin/sh\nexec valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --show-leak-kinds=definite,indirect,possible --error-exitcode=42 "%s" "$@"\n' "$DAEMON" >"$T/vg.sh"
    chmod +x "$T/vg.sh"
    local t
    for t in reload reload_bad crash_limit stop_timeout exec_missing region ctl_perm; do
        "$0" "$t" "$T/vg.sh" "$CTL" "$SVC" "$NOTIFY" "$RTOOL" >"$T/vg-$t.out" 2>&1 ||
            { cat "$T/vg-$t.out"; fail "$t under valgrind"; }
        echo "valgrind: $t clean"
    done
}

# Crash storm: 100 services crash at once and keep crashing. Each is
# restarted with backoff until its crash limit, then left failed; no zombie,
# the daemon stays responsive and cheap, and its log stays bounded.
t_storm() {
    local body="" i
    for i in $(seq 1 100); do
        body="$body[service s$i]
exec = $SVC s$i crash 0 1
restart = always
backoff-initial = 20ms
backoff-factor = 2
backoff-max = 200ms
crash-limit = 4 in 60s
"
    done
    LOGLEVEL=info conf "$body"
    start_daemon
    local t0; t0=$(awk '{print $14+$15}' /proc/$DPID/stat)
    # answered during the storm: the control tool waits 5 s for a reply; on
    # a machine loaded 25-fold the daemon, busy with 100 starts at once,
    # answered only the third (a finding for the daemon, not hidden: the
    # try is printed); a daemon that never serves its socket still fails
    local try
    for try in 1 2 3 4; do
        [ "$try" = 4 ] && fail "control socket unresponsive during the storm (3 tries of 5 s)"
        ctl status >/dev/null && break
    done
    all_failed() { [ "$(ctl status | awk 'NR > 1 && $2 == "failed"' | wc -l)" = 100 ]; }
    wait_for 30 "all 100 failed" all_failed
    for i in 1 50 100; do
        [ "$(count start s$i)" = 5 ] || fail "s$i: $(count start s$i) starts, want 5 (1 + 4 restarts)"
    done
    [ "$(grep -c '^start ' "$LOG")" = 500 ] || fail "$(grep -c '^start ' "$LOG") starts in all, want 500"
    wait_for 10 "no zombies after the storm" no_zombies
    local t1; t1=$(awk '{print $14+$15}' /proc/$DPID/stat)
    # 500 fork/exec/reap cycles: generous bound, it is about 0.1 s here
    [ $((t1 - t0)) -le $(( 300 * SLOW )) ] || fail "daemon used $((t1 - t0)) ticks for 500 restarts"
    local lines; lines=$(wc -l < "$DLOG")
    [ "$lines" -le 2500 ] || fail "$lines log lines for 500 crashes"
    echo "storm: 500 starts, daemon $((t1 - t0)) ticks, $lines log lines, status answered at try $try"
    stop_daemon
}

# Queues from the config: the daemon creates them and grants them; two
# services exchange 10^6 messages, none lost, duplicated or reordered; a
# service not named in the queue's section cannot open it, and a receiver
# cannot send; a ping-pong pair measures the round trip.
t_queue() {
    local q=$QNAME-data
    conf "[queue $q]
depth = 1024
size = 16
senders = tx
receivers = rx
[queue $QNAME-ping]
depth = 4
size = 16
senders = ping
receivers = pong
[queue $QNAME-pong]
depth = 4
size = 16
senders = pong
receivers = ping
[service tx]
exec = $QTOOL send $q 1000000
restart = no
[service rx]
exec = $QTOOL recv $q 1000000
restart = no
[service intruder]
exec = $QTOOL try $q
restart = no
[service pong]
exec = $QTOOL pong $QNAME-ping $QNAME-pong
restart = no
[service ping]
exec = $QTOOL ping $QNAME-ping $QNAME-pong 20000
restart = no
after = pong"
    "$DAEMON" -n -c "$T/conf.ini" >/dev/null 2>&1 || fail "config check: $("$DAEMON" -n -c "$T/conf.ini" 2>&1)"
    start_daemon
    wait_for 5 "queue created" test -e "/dev/shm/hmkq.$q"
    wait_for 60 "receiver done" grep -q "^qrecv $q " "$LOG"
    grep -qx "qsend $q 1000000 0" "$LOG" || fail "sender: $(grep "^qsend" "$LOG")"
    grep -qx "qrecv $q 1000000 0" "$LOG" || fail "receiver: $(grep "^qrecv" "$LOG")"
    wait_for 10 "intruder tried" grep -q "^qtry $q " "$LOG"
    grep -qx "qtry $q open -1 0" "$LOG" || fail "a service not granted the queue opened it: $(grep '^qtry' "$LOG")"
    wait_for 30 "ping done" grep -q "^qpingbad " "$LOG"
    grep -q "^qpingbad $QNAME-ping 0 0" "$LOG" || fail "ping-pong lost messages"
    echo "queue: 10^6 messages, none lost; round trip median/p99 us: $(awk '/^qping / { print $3 "/" $4 }' "$LOG")"
    stop_daemon
}

# A service crash-looping for a full minute (every exit restarted after
# 10 ms, no crash limit) beside one with a crash limit: the loop goes on at
# the backoff's pace, the other gives up and stays failed, the daemon's CPU
# stays low and its log is rate-limited, with every held-back line counted
# in a "suppressed" line. The 60 s sleep is the measurement window.
t_crashloop() {
    LOGLEVEL=info conf "[service loop]
exec = $SVC loop crash 0 1
restart = always
backoff-initial = 10ms
backoff-max = 10ms
crash-limit = none

[service gaveup]
exec = $SVC gaveup crash 0 1
restart = always
backoff-initial = 10ms
backoff-max = 10ms
crash-limit = 3 in 60s"
    start_daemon
    wait_for 10 "gaveup failed" state_is gaveup failed
    local g0 t0 t1 s0 s1 w0 w1 lines logged held p0 p1 pfd
    # the peer, measured in the same run just before and after the minute:
    # this shell running the same program in a loop with the same 10 ms
    # pause, for 2 s (what a loaded machine allows; starts per second)
    exec {pfd}<> <(:)
    peer_rate() {
        local n=0 end=$(( ${EPOCHREALTIME//[!0-9]/} + 2000000 ))
        while [ "${EPOCHREALTIME//[!0-9]/}" -lt "$end" ]; do
            HMK_TEST_LOG=/dev/null "$SVC" peer crash 0 1
            read -r -t 0.01 -u "$pfd"
            n=$((n + 1))
        done
        echo $((n / 2))
    }
    p0=$(peer_rate)
    g0=$(count start gaveup) s0=$(count start loop)
    t0=$(awk '{print $14+$15}' /proc/$DPID/stat) w0=$(date +%s%N)
    sleep 60
    t1=$(awk '{print $14+$15}' /proc/$DPID/stat) w1=$(date +%s%N)
    s1=$(count start loop)
    p1=$(peer_rate)
    exec {pfd}<&-
    ctl status >/dev/null || fail "control socket unresponsive after the minute"
    [ "$(count start gaveup)" = "$g0" ] || fail "gaveup restarted after giving up ($g0 -> $(count start gaveup) starts)"
    [ "$(field gaveup state)" = failed ] || fail "gaveup left failed: $(field gaveup state)"
    # a crasher that just exited is a zombie until the daemon's next loop
    # pass reaps it: a leak is one that stays
    wait_for 10 "no zombies after a minute of crashes" no_zombies
    local starts=$((s1 - s0)) ms=$(( (w1 - w0) / 1000000 ))
    # kept restarting, and never faster than the 10 ms backoff allows: at
    # least 1000 in the minute, or, on a machine so loaded that the shell
    # managed less, half of what the slower of the shell's two runs would
    # have managed in the minute
    local need=$(( 1000 / SLOW )) peer=$(( (p0 < p1 ? p0 : p1) * ms / 2000 ))
    [ "$peer" -lt "$need" ] && need=$peer
    [ "$starts" -ge "$need" ] || fail "only $starts restarts in $ms ms (want $need; the shell: $p0/s before, $p1/s after)"
    [ "$starts" -le $(( ms / 10 + 1 )) ] || fail "$starts restarts in $ms ms: faster than the backoff"
    # low CPU: under 10 % of one CPU for about $starts fork/exec/reaps
    [ $((t1 - t0)) -le $(( ms * SLOW / 100 ))  ] || fail "daemon used $((t1 - t0)) ticks in $ms ms"
    stop_daemon
    lines=$(wc -l < "$DLOG")
    [ "$lines" -le 200 ] || fail "$lines log lines for $starts crashes"
    # every lifecycle line about loop was either logged or counted
    logged=$(grep -cE '^<[0-9]>(Started service loop |Service loop exited|Restarting service loop )' "$DLOG")
    held=$(awk '/^<4>Service loop: [0-9]+ more lines about it suppressed/ { n += $3 } END { print n + 0 }' "$DLOG")
    local total; total=$(count start loop)
    # per start: started + exited + restarting (3 lines). The last start may
    # have been stopped rather than crashed (1 to 3 lines), and the daemon's
    # "Started" can precede a start the service never got to record (killed
    # by the stop first): within one lifecycle either way, never more off.
    [ $((logged + held)) -ge $((3 * total - 3)) ] && [ $((logged + held)) -le $((3 * total + 3)) ] \
        || fail "loop: $logged lines logged + $held suppressed for $total starts"
    echo "crashloop: $starts restarts in $ms ms (at least $need: the shell $p0/s before, $p1/s after)," \
         "daemon $((t1 - t0)) ticks, $lines log lines" \
         "($logged logged + $held suppressed), gaveup stayed failed"
}

# pid_max set low under fork churn: the daemon must never signal a wrong
# process. Runs the daemon in a new pid namespace (kernel.pid_max is per
# namespace since Linux 6.14) with pid_max 400, services crashing and being
# stopped, restarted and SIGKILLed after a stop timeout by the control
# socket, fork churn recycling pids, and victims outside the daemon's care
# that record any signal: they must get none, and pids must really repeat.
t_pidmax() {
    unshare -p -f --mount-proc sh -c 'echo 400 > /proc/sys/kernel/pid_max' 2>/dev/null || {
        echo "SKIP: cannot set kernel.pid_max in a new pid namespace (kernel < 6.14 or not root)"
        exit 77
    }
    unshare -p -f --mount-proc "$0" pidmax_inner "$DAEMON" "$CTL" "$SVC" "$NOTIFY" ||
        fail "inside the pid namespace (see above)"
}

t_pidmax_inner() {
    echo 400 > /proc/sys/kernel/pid_max || fail "cannot set pid_max"
    local i victims=() churn=()
    : > "$T/signals"
    : > "$T/ready"
    for i in $(seq 1 20); do
        bash -c 'for s in TERM INT HUP USR1 USR2 QUIT ALRM; do trap "echo $$ $s >> '"$T"'/signals" $s; done
                 echo $$ >> '"$T"'/ready
                 while :; do read -r -t 0.2 <> <(:) || :; done' &
        victims+=($!)
    done
    # every victim has its traps before anyone signals one (a USR2 before
    # the trap is set kills it: seen on a loaded machine)
    wait_for 10 "victim traps set" eval '[ "$(wc -l < "$T/ready")" = 20 ]'
    # the victims' record works: one signalled on purpose is written down
    # (its USR2 lines are the only ones allowed in the end)
    kill -USR2 "${victims[0]}"
    wait_for 5 "the signalled victim wrote it down" test -s "$T/signals"
    conf "[service crasher]
exec = $SVC crasher crash 0 1
backoff-initial = 1ms
backoff-max = 5ms
crash-limit = none

[service sleeper]
exec = $SVC sleeper run
backoff-initial = 1ms

[service stubborn]
exec = $SVC stubborn ignore-term
stop-timeout = 50ms
backoff-initial = 1ms"
    start_daemon
    for i in 1 2; do
        ( while :; do /bin/true; done ) &
        churn+=($!)
    done
    # 15 s of it at least, and on until pids were seen to repeat (a loaded
    # machine forks fewer per second; 15 s once gave 41 starts, 7 pids
    # reused), 3 min at most
    pids_reused() { awk '$1 == "start" { n[$3]++ } END { r = 0; for (p in n) if (n[p] > 1) r++; print r }' "$LOG"; }
    local t=$(date +%s) ops=0
    local end=$((t + 15)) last=$((t + 180))
    while [ "$(date +%s)" -lt "$end" ] || { [ "$(pids_reused)" -lt 10 ] && [ "$(date +%s)" -lt "$last" ]; }; do
        ctl restart sleeper >/dev/null; ctl restart stubborn >/dev/null
        ctl stop crasher >/dev/null; ctl start crasher >/dev/null
        ops=$((ops + 4))
    done
    kill "${churn[@]}" 2>/dev/null; wait "${churn[@]}" 2>/dev/null
    local alive=0 p
    for p in "${victims[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
    local wrong; wrong=$(grep -v "^${victims[0]} USR2\$" "$T/signals")
    [ -z "$wrong" ] || fail "victims got signals: $(echo "$wrong" | sort | uniq -c | head)"
    [ "$alive" = 20 ] || fail "only $alive of 20 victims alive"
    local starts reused
    starts=$(grep -c '^start ' "$LOG")
    reused=$(pids_reused)
    [ "$reused" -ge 10 ] || fail "pids did not recycle ($starts starts, $reused pids reused)"
    wait_for 5 "no zombies" no_zombies
    stop_daemon
    kill "${victims[@]}" 2>/dev/null
    echo "pidmax: pid_max 400, $starts service starts, $reused pids reused, $ops control requests, 20 victims got no signal"
}

# The daemon runs out of file descriptors (its soft limit lowered with prlimit)
# in three steps, one episode, reported once:
#  1. just below what it holds: its fd reserve lets the crashing service
#     restart all the same;
#  2. far below, and a hog fills the control socket's backlog: nothing can
#     be opened at all; the daemon must not spin on the listening socket,
#     reports why the crasher cannot start, rate-limited, keeps the sleeper;
#  3. above again, the hog holds what it can get (40 silent connections,
#     reconnecting any the daemon drops): the crasher restarts, a control
#     request is refused at once with a line that says why, a region that
#     appears is attached and a reload is applied;
# and once the hog is gone the daemon recovers by itself.
t_fdlimit() {
    LOGLEVEL=info conf "[service crasher]
exec = $SVC crasher crash 0 1
backoff-initial = 50ms
backoff-max = 50ms
crash-limit = none

[service sleeper]
exec = $SVC sleeper run"
    start_daemon
    wait_for 5 "both started" eval 'count_ge start crasher 2 && count_ge start sleeper 1'
    local sp n hp t0 t1 t2 t3 c0 c1 c2 c3 f0 f1 ms out
    sp=$(field sleeper pid)
    # the peer for how fast a refusal must come: three status requests
    # answered as usual, now, on this machine
    local b0 base
    b0=${EPOCHREALTIME//[!0-9]/}
    ctl status sleeper >/dev/null && ctl status sleeper >/dev/null && ctl status sleeper >/dev/null || fail "status"
    base=$(( (${EPOCHREALTIME//[!0-9]/} - b0) / 3000 ))
    # what the daemon holds for itself: the least of a few looks, as a
    # crasher in flight holds two more (its pidfd and status pipe)
    n=$(for i in $(seq 1 30); do ls /proc/$DPID/fd | wc -l; sleep 0.01; done | sort -n | head -n 1)
    cpu() { awk '{print $14+$15}' /proc/$DPID/stat; }
    # 1: the limit is on descriptor numbers, not on how many: set it to the
    # lowest free number, so every number below it is taken and the next
    # open fails. A crasher alive at that moment holds a few that it gives
    # back when it dies, so try again if no start ran short.
    local k try short="Out of file descriptors while starting service crasher"
    for try in 1 2 3 4 5; do
        k=$(python3 -c 'import os, sys
s = {int(x) for x in os.listdir("/proc/%s/fd" % sys.argv[1])}
print(min(set(range(len(s) + 1)) - s))' "$DPID")
        prlimit --pid "$DPID" --nofile="$k": || fail "prlimit"
        within 2 log_has "$short" && break
    done
    log_has "$short" || fail "no start ran short at a limit of the lowest free descriptor ($k), $try tries"
    c0=$(count start crasher)
    wait_for 5 "crasher restarted at the limit" count_ge start crasher $((c0 + 10))
    log_has "Failed to start service crasher" && fail "a start failed although the reserve was there"
    # 2
    prlimit --pid "$DPID" --nofile=$((n - 12)): || fail "prlimit"
    python3 - "$SOCK" "$T/held" "$T/release" <<'PY' &
import os, socket, sys, time
def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    try:
        s.connect(sys.argv[1])
        return s
    except OSError:  # backlog full: next round
        s.close()
        return None
conns = [None] * 40
while not os.path.exists(sys.argv[3]):
    for i, s in enumerate(conns):
        if s is not None:
            try:
                s.recv(200)  # an answer or EOF: the daemon let go of it
                s.close()
                conns[i] = None
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                conns[i] = None
        if conns[i] is None:
            conns[i] = connect()
    if not os.path.exists(sys.argv[2]):
        open(sys.argv[2], "w").close()
    time.sleep(0.02)
PY
    hp=$!
    wait_for 5 "hog connected" test -e "$T/held"
    wait_for 5 "start failure reported" log_has "Failed to start service crasher: Too many open files"
    t0=$(cpu)
    sleep 3   # a measurement window: a daemon spinning on EMFILE burns ~300 ticks in it
    t1=$(cpu) f0=$(grep -c 'Failed to start service crasher' "$DLOG")
    [ $((t1 - t0)) -le 30 ] || fail "daemon used $((t1 - t0)) ticks in 3 s with no descriptor to be had"
    [ "$f0" -le 13 ] || fail "$f0 lines about failed starts: not rate-limited"
    kill -0 "$sp" && [ "$(count start sleeper)" = 1 ] || fail "sleeper disturbed"
    # 3
    # n + 12: room for a start (3), a crasher in flight (2) and some slack beside what
    # the region (attached below) and the service added by the reload keep
    # open (its timer and its telemetry block)
    prlimit --pid "$DPID" --nofile=$((n + 12)): || fail "prlimit"
    c1=$(count start crasher)
    wait_for 5 "crasher restarted again" count_ge start crasher $((c1 + 2))
    c2=$(count start crasher) t2=$(cpu) f1=$(grep -c 'Failed to start service crasher' "$DLOG")
    sleep 3   # measurement window
    t3=$(cpu) c3=$(count start crasher)
    [ $((t3 - t2)) -le 30 ] || fail "daemon used $((t3 - t2)) ticks in 3 s under the hog"
    [ $((c3 - c2)) -ge 10 ] || fail "crasher restarted $((c3 - c2)) times in 3 s under the hog"
    [ "$(grep -c 'Failed to start service crasher' "$DLOG")" = "$f1" ] || fail "starts failed under the hog"
    ms=$(date +%s%N)
    out=$(ctl status sleeper 2>&1)
    ms=$(( ($(date +%s%N) - ms) / 1000000 ))
    case $out in
    *"the daemon is out of file descriptors; try again shortly"*|*sleeper*running*) ;;
    *) fail "status while out of fds said: $out" ;;
    esac
    # at once: within 1 s more than 10 ordinary requests take on this
    # machine now (under a 25-fold load one took 1773 ms, 157 ms as usual;
    # quiet, about 400 ms, 50 ms as usual); no answer at all is the control
    # tool's 5 s timeout, which the case above already fails
    local bound=$(( 1000 + base * 10 ))
    [ "$ms" -lt "$bound" ] || fail "status took $ms ms while out of fds (bound $bound ms; $base ms as usual)"
    "$RTOOL" create "$REGION" 4 || fail "create region"
    wait_for 5 "attached while out of fds" log_has "Attached to region '$REGION'"
    wait_for 5 "heartbeat" eval '[ "$("$RTOOL" heartbeat "$REGION" | cut -d" " -f1)" = "$DPID" ]'
    printf '\n[service late]\nenv = HMK_TEST_LOG=%s\nexec = %s late run\n' "$LOG" "$SVC" >>"$T/conf.ini"
    kill -HUP "$DPID"
    wait_for 5 "service added by a reload while out of fds" count_ge start late 1
    log_has "keeping the running configuration" && fail "reload failed while out of fds"
    log_has "File descriptors available again" && fail "recovery reported while the hog held on"
    # the hog goes: the daemon recovers by itself
    touch "$T/release"; wait $hp
    wait_for 15 "recovery reported" log_has "File descriptors available again"
    wait_for 5 "status answers" eval 'ctl status sleeper | grep -q running'
    c0=$(count start crasher)
    wait_for 5 "crasher still restarted" count_ge start crasher $((c0 + 2))
    [ "$(grep -c 'Out of file descriptors' "$DLOG")" = 1 ] || fail "the episode was not reported exactly once"
    wait_for 10 "no zombies" no_zombies
    stop_daemon
    echo "fdlimit: $n fds open; limit $k (try $try): crasher restarted on the reserve;" \
         "limit $((n - 12)): daemon $((t1 - t0)) ticks in 3 s, $f0 lines on failed starts;" \
         "limit $((n + 12)) under the hog: $((t3 - t2)) ticks, crasher restarted $((c3 - c2)) times in 3 s," \
         "status answered in $ms ms (usual: $base ms): ${out%%$'\n'*}; region attached, reload applied;" \
         "one report line: $(grep 'Out of file descriptors' "$DLOG" | cut -c4-)"
}

# A service over its memory limit (limit-as, RLIMIT_AS): its allocations
# fail and it aborts; the daemon says how it ended and how close to the
# limit it came, and restarts it per its policy, again and again, while the
# limit holds each time; one with restart = no is reported and left down.
t_memlimit() {
    LOGLEVEL=info conf "[service hog]
exec = $SVC hog hog
limit-as = 64M
restart = on-failure
backoff-initial = 100ms
backoff-max = 100ms
crash-limit = none

[service once]
exec = $SVC once hog
limit-as = 48M
restart = no"
    start_daemon
    capped() { ! grep -q '^cap ' "$LOG" || fail "a service got 1 GiB: limit-as not applied"; }
    wait_for 20 "three times over the limit" eval 'capped && count_ge oom hog 3'
    wait_for 5 "restarted after the third" count_ge start hog 4
    wait_for 5 "once down" state_is once stopped
    capped
    local mib peak line
    mib=$(awk '$1 == "oom" && $2 == "hog" { if ($5 > m) m = $5 } END { print m + 0 }' "$LOG")
    [ "$mib" -gt 0 ] && [ "$mib" -lt 64 ] || fail "hog reached $mib MiB under a 64 MiB limit"
    # each death: one line saying how, and how near the limit, then the restart
    line='^<4>Service hog killed by SIGABRT( \(core dumped\))? \(limit-as 64 MiB; peak resident [0-9.]+ MiB\)$'
    [ "$(grep -cE "$line" "$DLOG")" -ge 3 ] || fail "the daemon did not say how hog ended"
    peak=$(grep -E "$line" "$DLOG" | head -n 1 | sed -E 's/.*peak resident ([0-9.]+) MiB.*/\1/')
    awk -v p="$peak" -v m="$mib" 'BEGIN { exit !(p >= m && p < 64) }' \
        || fail "peak resident $peak MiB reported, the service touched $mib MiB under 64"
    [ "$(grep -c 'Restarting service hog in 100 ms' "$DLOG")" -ge 3 ] || fail "restarts not reported"
    grep -qE '^<4>Service once killed by SIGABRT( \(core dumped\))? \(limit-as 48 MiB; peak resident [0-9.]+ MiB\)$' "$DLOG" \
        || fail "the daemon did not say how once ended"
    [ "$(count start once)" = 1 ] || fail "restart = no: once started $(count start once) times"
    case $(field once last_exit) in "killed by SIGABRT"*) ;; *) fail "once: last exit $(field once last_exit)" ;; esac
    wait_for 10 "no zombies" no_zombies
    stop_daemon
    echo "memlimit: limit-as 64M, the service got $mib MiB and aborted; reported as '$(grep -E "$line" "$DLOG" |
        head -n 1 | cut -c4-)'; restarted $(( $(count start hog) - 1 )) times; restart = no left it down"
}

# sched = applies each class in the child before exec (chrt -p reads it back
# from the kernel), with reset-on-fork for the realtime ones; a class the
# kernel refuses leaves the service failed with one line naming the class,
# not running in some other class
t_sched() {
    # a container or cgroup may deny realtime classes even to root
    chrt -f 1 true 2>/dev/null && chrt -d --sched-runtime 1000000 --sched-deadline 10000000 \
        --sched-period 10000000 0 true 2>/dev/null || { echo "SKIP: this kernel refuses realtime classes to root"; exit 77; }
    conf "[service f]
exec = $SVC f run
sched = fifo:10
limit-rttime = 2s
[service r]
exec = $SVC r run
sched = rr:3
cpu-affinity = 0
[service d]
exec = $SVC d run
sched = deadline:1ms/10ms/10ms
[service b]
exec = $SVC b run
sched = batch
[service k]
exec = $SVC k run
restart = always
sched = deadline:1ms/5s/5s"
    start_daemon
    local s
    for s in f r d b; do wait_for 5 "$s running" state_is "$s" running; done
    wait_for 5 "k failed" state_is k failed
    policy() { chrt -p "$(field "$1" pid)" | sed -n 's/.*scheduling policy: //p'; }
    prio() { chrt -p "$(field "$1" pid)" | sed -n 's/.*scheduling priority: //p'; }
    [ "$(policy f)" = "SCHED_FIFO|SCHED_RESET_ON_FORK" ] || fail "f: policy $(policy f)"
    [ "$(prio f)" = 10 ] || fail "f: priority $(prio f)"
    grep -Eq '^Max realtime timeout +2000000 +2000000 +us' "/proc/$(field f pid)/limits" \
        || fail "f: limit-rttime not applied: $(grep realtime "/proc/$(field f pid)/limits")"
    [ "$(policy r)" = "SCHED_RR|SCHED_RESET_ON_FORK" ] || fail "r: policy $(policy r)"
    [ "$(prio r)" = 3 ] || fail "r: priority $(prio r)"
    [ "$(taskset -pc "$(field r pid)" | sed 's/.*: //')" = 0 ] || fail "r: affinity"
    [ "$(policy d)" = "SCHED_DEADLINE|SCHED_RESET_ON_FORK" ] || fail "d: policy $(policy d)"
    chrt -p "$(field d pid)" | grep -q "runtime/deadline/period parameters: 1000000/10000000/10000000" \
        || fail "d: parameters $(chrt -p "$(field d pid)")"
    [ "$(policy b)" = SCHED_BATCH ] || fail "b: policy $(policy b)"
    # the kernel's deadline period limit is 4.19 s (sched_deadline_period_max_us)
    [ "$(field k last_exit)" = "sched deadline:1ms/5s/5s refused: Invalid argument" ] \
        || fail "k: last exit '$(field k last_exit)'"
    [ "$(grep -c 'Service k: sched deadline:1ms/5s/5s refused: Invalid argument' "$DLOG")" = 1 ] \
        || fail "k: not said exactly once"
    [ "$(count start k)" = 0 ] || fail "k ran in another class"
    [ "$(field k restarts)" = 0 ] || fail "k: a refused class was retried"
    stop_daemon
    echo "sched: fifo:10, rr:3 on CPU 0, deadline 1ms/10ms/10ms and batch applied; refused: '$(grep -o 'Service k: .*' "$DLOG" | head -n 1)'"
}

# Reaction-time telemetry: a framework service whose handler sleeps past its
# deadline on every 10th change gets exactly that many misses; the first is
# logged at once; the counts survive a restart; a hostile service (another
# uid) that scribbles over its own block and tries to resize it disturbs
# neither the daemon nor the other service's numbers
t_deadline() {
    [ "$(id -u)" = 0 ] || { echo "needs root for user = nobody"; exit 77; }
    # ready = fd: running means subscribed, so no change below can come
    # before the service follows the stream
    conf "[service r]
exec = $REACT 10000 10
deadline = 8s
ready = fd
[service bad]
exec = $REACT scribble
user = nobody
deadline = 5ms
ready = fd"
    "$RTOOL" create "$REGION" 1 || fail "create"
    start_daemon
    wait_for 5 "r running" state_is r running
    wait_for 5 "bad running" state_is bad running
    # stat NAME FIELD: one number of `stats NAME --json`
    stat() { ctl --json stats "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['$2'])"; }
    # the count from the table: no interpreter started per poll
    reactions_ge() { [ "$(ctl stats "$1" | awk 'NR == 2 { print $3 }')" -ge "$2" ]; }
    local v
    # an 8 s deadline: a reaction that does not sleep stays far below it
    # even on a loaded machine, and above the 5 s an armed wait may sleep
    # when a wake-up goes missing (seen here, under investigation: a
    # reaction in the 4-8 s bucket); the ones that sleep 10 s are far above
    for v in $(seq 1 20); do
        "$RTOOL" set-in "$REGION" 0 "$v" >/dev/null || fail "set-in $v"
        # one change at a time: each is its own reaction (the 10th sleeps 10 s)
        wait_for 20 "reaction $v" reactions_ge r "$v"
    done
    [ "$(stat r count)" = 20 ] || fail "r: $(stat r count) reactions for 20 changes"
    [ "$(stat r misses)" = 2 ] || fail "r: $(stat r misses) misses, want 2 (values 10 and 20 slept 10 s past an 8 s deadline; $(ctl --json stats r))"
    [ "$(stat r max_ns)" -ge 10000000000 ] || fail "r: worst $(stat r max_ns) ns, the slept ones took 10 s"
    [ "$(stat r deadline_ns)" = 8000000000 ] || fail "r: deadline $(stat r deadline_ns)"
    wait_for 5 "first miss logged" log_has '\[DEADLINE\] Service r missed its 8000 ms deadline 1 more time (1 of [0-9]* reactions; worst 10'
    # the second is gathered: at most one line per 10 s after the first
    local lines; lines=$(grep -c '\[DEADLINE\] Service r ' "$DLOG")
    [ "$lines" -ge 1 ] && [ "$lines" -le 2 ] || fail "$lines [DEADLINE] lines for 2 misses"
    ctl stats | grep -Eq '^r +8.00s +20 +2 ' || fail "stats table: $(ctl stats)"
    # the block outlives the process
    local p1; p1=$(field r pid)
    kill -KILL "$p1"
    wait_for 10 "r restarted" eval '[ "$(field r pid)" != "$p1" ] && [ "$(field r pid)" != 0 ] && state_is r running'
    [ "$(stat r count)" = 20 ] && [ "$(stat r misses)" = 2 ] ||
        fail "r: the numbers did not survive the restart: $(ctl --json stats r)"
    "$RTOOL" set-in "$REGION" 0 21 >/dev/null || fail "set-in 21"
    # the new process adds to them, within its deadline: a restarted service
    # that reported ready misses no change (before the framework reported
    # ready only after subscribing, a change in between was seen seconds
    # late or never)
    wait_for 20 "reaction after restart" reactions_ge r 21
    [ "$(stat r misses)" = 2 ] || fail "r: the first reaction after the restart missed: $(ctl --json stats r)"
    # the hostile one: its numbers are its own garbage, nothing else moved
    log_has "scribbled over the telemetry block; resizing refused" || fail "bad did not scribble"
    [ "$(stat bad count)" = 18446744073709551615 ] || fail "bad: scribble not seen: $(stat bad count)"
    kill -0 "$DPID" || fail "daemon died"
    ctl stats >/dev/null || fail "stats after the scribble"
    state_is r running && state_is bad running || fail "a service went down: $(ctl status)"
    [ "$(stat r count)" = 21 ] || fail "r disturbed: $(stat r count)"
    stop_daemon
    echo "deadline: 21 reactions, 2 misses of 8 s; '$(grep -o '\[DEADLINE\].*' "$DLOG" | head -n 1)'"
}

# A service is its process group: a stop ends all of it (a member that
# handles SIGTERM at once; a double-forked one that ignores SIGTERM, after
# stop-timeout), and so does its main process's crash, before it restarts:
# no run of a service ever runs beside what is left of the last one.
t_stop_group() {
    conf "[service g]
exec = $SVC g group 0
stop-timeout = 500ms

[service c]
exec = $SVC c group 1000
restart = always
backoff-initial = 100ms
stop-timeout = 500ms"
    start_daemon
    pid_of() { awk -v e="$1" -v n="$2" '$1 == e && $2 == n { print $3 }' "$LOG" | sed -n "${3:-1}p"; }
    # gone: no such process, or a zombie (reaped by whoever its parent is now)
    gone() { [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != S ] &&
             [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != R ]; }
    wait_for 5 "members up" eval 'count_ge member g 1 && count_ge stubborn g 1 && count_ge stubborn c 1'
    local m st c1 cm1 t0 t1
    m=$(pid_of member g) st=$(pid_of stubborn g)
    ! gone "$m" && ! gone "$st" || fail "members not running"
    t0=$(date +%s%N)
    ctl stop g >/dev/null || fail "ctl stop"
    wait_for 5 "g stopped" state_is g stopped
    wait_for 5 "member gone" gone "$m"
    grep -q "^stop g $m " "$LOG" || fail "the member did not get SIGTERM"
    wait_for 5 "stubborn member gone" gone "$st"
    t1=$(date +%s%N)
    [ $(( (t1 - t0) / 1000000 )) -ge 450 ] || fail "the stubborn one went before stop-timeout"
    log_has "Service g: processes left in its group after its main process ended" ||
        fail "no SIGKILL for what was left logged"
    # the crash: what the first run left is gone, the member by SIGTERM
    wait_for 10 "c restarted" count_ge start c 2
    c1=$(pid_of stubborn c) cm1=$(pid_of member c)
    wait_for 5 "first run's member gone" gone "$cm1"
    grep -q "^stop c $cm1 " "$LOG" || fail "c's member did not get SIGTERM when c crashed"
    wait_for 5 "first run's stubborn one gone" gone "$c1"
    wait_for 10 "no zombies" no_zombies
    wait_for 5 "second run's stubborn one up" eval '[ -n "$(pid_of stubborn c 2)" ]'
    c1=$(pid_of stubborn c 2)
    stop_daemon
    # the daemon gone, nothing of its services stays
    wait_for 5 "nothing left after the daemon" gone "$c1"
    echo "stop_group: stop ended the member on SIGTERM and the stubborn one after $(( (t1 - t0) / 1000000 )) ms;" \
         "a crash ended the rest of its group before the restart"
}

# ready = fd and a service that never says so: after ready-timeout it is
# stopped and counts as a failed start, so its crash limit ends the loop.
t_ready_timeout() {
    conf "[service r]
exec = $SVC r ready 600000
ready = fd
ready-timeout = 300ms
stop-timeout = 300ms
restart = on-failure
backoff-initial = 100ms
backoff-max = 100ms
crash-limit = 2 in 1min"
    start_daemon
    wait_for 10 "r failed by its crash limit" state_is r failed
    [ "$(count start r)" = 3 ] || fail "started $(count start r) times, want 3 (crash-limit 2)"
    log_has "Service r did not report ready within 300 ms; stopping it" || fail "no line about the timeout"
    [ "$(field r last_exit)" = "not ready within 300 ms" ] || fail "last exit: $(field r last_exit)"
    [ "$(count ready r)" = 0 ] || fail "r reported ready?"
    stop_daemon
}

"t_$TEST"
echo "PASS: $TEST"
