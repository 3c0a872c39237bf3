#!/bin/bash
# Integration tests for mqtt-gateway: a real mosquitto broker on 127.0.0.1
# (free port, no persistence), the daemon, and a region made without HAL.
#   run.sh TEST GATEWAY DAEMON CTL REGIONTOOL HALPOKE
# Exit 0 pass, 1 fail, 77 skip. Waits are on conditions with deadlines.
set -u
TEST=$1 GW=$2 DAEMON=$3 CTL=$4 RTOOL=$5 POKE=$6
command -v mosquitto >/dev/null && command -v mosquitto_sub >/dev/null || { echo "SKIP: no mosquitto (scripts/deps.sh)"; exit 77; }
SLOW=1
[ -n "${HMK_SANITIZED:-}" ] && SLOW=4
T=$(mktemp -d /tmp/hmk-mqtt-$TEST.XXXXXX)
chmod 755 "$T"
REGION=hmk-mqtt-$$-$RANDOM
SOCK=$T/ctl.sock
BASE=hal/m1
DPID= SPID= XPIDS=
. "$(dirname "$0")/lib.sh"

cleanup() {
    [ -n "$DPID" ] && kill -CONT "$DPID" 2>/dev/null && kill -TERM "$DPID" && wait "$DPID" 2>/dev/null
    [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null
    for p in $XPIDS; do kill -TERM "$p" 2>/dev/null; done # the tests' own subscribers
    # the gateway runs in its own session: end ours by the region it uses
    for p in $(pgrep -x mqtt-gateway 2>/dev/null); do
        grep -qs "HAL_MICROKERNEL_REGION=$REGION" "/proc/$p/environ" && kill -KILL "$p"
    done
    broker_stop
    rm -f "/dev/shm/$REGION" "/dev/shm/.$REGION".* "/dev/shm/$REGION".*
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    echo "--- daemon log"; tail -n 40 "$T/daemon.log" 2>/dev/null
    echo "--- subscriber"; tail -n 30 "$T/sub.log" 2>/dev/null
    echo "--- broker"; tail -n 10 "$T/broker.log" 2>/dev/null
    exit 1
}
within() {
    local end=$(( $(date +%s%N) + $1 * SLOW * 1000000000 )); shift
    until "$@"; do
        [ "$(date +%s%N)" -gt "$end" ] && return 1
        sleep 0.02
    done
}
wait_for() { local s=$1 d=$2; shift 2; within "$s" "$@" || fail "timed out after ${s}s waiting for: $d"; }

# gateway_conf EXTRA WRITES: daemon + gateway service
gateway_conf() {
    cat >"$T/conf.ini" <<INI
[daemon]
region = $REGION
control-socket = $SOCK
heartbeat-period = 100ms
log-level = info

[service gw]
exec = $GW --host 127.0.0.1 --port $PORT --machine m1 --keepalive 5 $1
ready = fd
restart = always
backoff-initial = 100ms
writes = ${2:-none}
INI
}
start_all() { # EXTRA WRITES
    broker_start || fail "broker"
    "$RTOOL" create "$REGION" 4 || fail "region"
    gateway_conf "$1" "${2:-none}"
    "$DAEMON" -n -c "$T/conf.ini" 2>>"$T/daemon.log" || fail "config check"
    "$DAEMON" -c "$T/conf.ini" 2>>"$T/daemon.log" &
    DPID=$!
    subscribe
    wait_for 10 "status online" sub_has "$BASE/status online"
}
subscribe() {
    [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null
    mosquitto_sub -h 127.0.0.1 -p "$PORT" -t "$BASE/#" -v >>"$T/sub.log" 2>&1 &
    SPID=$!
}
sub_has() { grep -qxF -- "$1" "$T/sub.log"; }
sub_count() { grep -cxF -- "$1" "$T/sub.log"; }
seen_ge() { [ "$(sub_count "$1")" -ge "$2" ]; } # LINE N: LINE seen N times
errors() { grep -c "^$BASE/error " "$T/sub.log"; }
errors_ge() { [ "$(errors)" -ge "$1" ]; }
pub() { mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 "$@"; }
out_of() { "$POKE" -r "$REGION" --list | awk -v p="$1" '$4 == p { print $6 }'; }
out_is() { [ "$(out_of "$1")" = "$2" ]; }
gw_pid() { "$CTL" -s "$SOCK" status gw | awk 'NR == 2 { print $3 }'; }
gw_running_new() { local p; p=$(gw_pid); [ -n "$p" ] && [ "$p" != - ] && [ "$p" != "$1" ]; }
last_value() { grep "^$BASE/pin/$1 " "$T/sub.log" | tail -n 1 | cut -d' ' -f2; }
last_is() { [ "$(last_value "$1")" = "$2" ]; }

one_line_error() { # WANT_RC CMD...: exactly one line on stderr; prints it
    local want=$1 rc; shift
    "$@" >"$T/err.out" 2>"$T/err.txt" </dev/null; rc=$?
    [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, want $want: $(cat "$T/err.txt")"
    [ "$(wc -l <"$T/err.txt")" -eq 1 ] && [ ! -s "$T/err.out" ] || fail "'$*' said: $(cat "$T/err.out" "$T/err.txt")"
    cat "$T/err.txt"
}

t_check() {
    "$RTOOL" create "$REGION" 4 || fail region
    export HAL_MICROKERNEL_REGION=$REGION
    "$GW" -n --set pin.1 >"$T/ok.txt" 2>&1 || fail "good options refused: $(cat "$T/ok.txt")"
    grep -q 'configuration OK' "$T/ok.txt" || fail "no OK line: $(cat "$T/ok.txt")"
    local e
    e=$(one_line_error 2 "$GW" -n --port 70000); [[ $e == *"--port"*70000* ]] || fail "port: $e"
    e=$(one_line_error 2 "$GW" -n --qos 3); [[ $e == *--qos* ]] || fail "qos: $e"
    e=$(one_line_error 2 "$GW" -n --bogus); [[ $e == *--bogus* ]] || fail "unknown: $e"
    e=$(one_line_error 2 "$GW" -n --machine 'a/b'); [[ $e == *a/b* ]] || fail "machine: $e"
    e=$(one_line_error 2 "$GW" -n --prefix 'x/#'); [[ $e == *'x/#'* ]] || fail "prefix: $e"
    e=$(one_line_error 2 "$GW" -n --set nosuch); [[ $e == *nosuch* ]] || fail "unknown pin: $e"
    e=$(one_line_error 2 "$GW" -n --password-file "$T/none"); [[ $e == *"$T/none"* ]] || fail "pwfile: $e"
    e=$(one_line_error 2 "$GW" -n --cafile "$T/none"); [[ $e == *"$T/none"* ]] || fail "cafile: $e"
    # the daemon grants pin.1 only: a --set beyond the grant fails at start
    e=$(HMK_WRITE_PINS=pin.1 one_line_error 2 "$GW" -n --set pin.1,pin.2)
    [[ $e == *pin.2*"writes ="* ]] || fail "ungranted --set: $e"
    echo "check: bad options and pins refused with one line each"
}

# pins to broker: every change from the region reaches the broker; values
# only move forward (coalescing never publishes an older value after a
# newer one) and the final one is exact
t_publish() {
    start_all ""
    wait_for 10 "initial pin.3" sub_has "$BASE/pin/pin.3 0"
    for i in $(seq 1 100); do "$RTOOL" set-in "$REGION" 0 "$i"; done
    "$RTOOL" set-in "$REGION" 3 -2.25
    wait_for 10 "final value 100" last_is pin.0 100
    wait_for 10 "pin.3 -2.25" last_is pin.3 -2.25
    grep "^$BASE/pin/pin.0 " "$T/sub.log" | cut -d' ' -f2 | python3 -c '
import sys
v=[float(l) for l in sys.stdin]
bad=[(a,b) for a,b in zip(v,v[1:]) if b<a]
sys.exit(1 if bad else 0)' || fail "values went backwards: $(grep "^$BASE/pin/pin.0 " "$T/sub.log" | tr '\n' ' ')"
    [ "$(retained "$BASE/pin/pin.0")" = 100 ] || fail "retained pin.0 is $(retained "$BASE/pin/pin.0")"
    [ "$(retained "$BASE/status")" = online ] || fail "retained status"
    echo "publish: $(grep -c "^$BASE/pin/pin.0 " "$T/sub.log") messages for 100 changes, final exact"
}

# broker to pins only for granted, settable pins; everything else is an
# error reply and no write
t_commands() {
    start_all "--set pin.1" pin.1
    pub -t "$BASE/pin/pin.1/set" -m 2.5
    wait_for 10 "pin.1 out 2.5" out_is pin.1 2.5
    pub -t "$BASE/pin/pin.2/set" -m 7
    wait_for 10 "error for pin.2" errors_ge 1
    grep -q "^$BASE/error pin/pin.2/set '7': pin pin.2 is not settable" "$T/sub.log" || fail "pin.2 reply: $(grep error "$T/sub.log")"
    pub -t "$BASE/pin/nosuch/set" -m 1
    wait_for 10 "error for nosuch" errors_ge 2
    grep -q "^$BASE/error pin/nosuch/set '1': no such pin" "$T/sub.log" || fail "nosuch reply"
    # a retained command would be applied again at every reconnect: refused
    # when it comes in as retained (a new subscription, here the restart)
    pub -r -t "$BASE/pin/pin.1/set" -m 9
    wait_for 10 "pin.1 out 9" out_is pin.1 9
    pub -t "$BASE/pin/pin.1/set" -m 3
    wait_for 10 "pin.1 out 3" out_is pin.1 3
    local pid; pid=$(gw_pid)
    kill -KILL "$pid"
    wait_for 10 "gateway restarted" gw_running_new "$pid"
    wait_for 10 "retained refusal" errors_ge 3
    grep -q "^$BASE/error pin/pin.1/set '9': retained command refused" "$T/sub.log" || fail "retained reply: $(grep error "$T/sub.log")"
    # clearing it is an empty command: answered as malformed, like any other
    pub -r -t "$BASE/pin/pin.1/set" -n
    wait_for 10 "reply to the empty command" errors_ge 4
    out_is pin.1 3 || fail "retained command applied: pin.1 out $(out_of pin.1)"
    out_is pin.2 0 || fail "pin.2 written: $(out_of pin.2)"
    # pulses are refused for pins outside --set (accepted ones need the
    # bridge's command ring: tests/hal/svc_mqtt)
    pub -t "$BASE/pin/pin.2/pulse" -m 4
    wait_for 10 "error for pin.2 pulse" errors_ge 5
    grep -q "^$BASE/error pin/pin.2/pulse '4': pin pin.2 is not settable" "$T/sub.log" || fail "pulse reply"
    [ "$(errors)" = 5 ] || fail "unexpected replies: $(grep error "$T/sub.log")"
    echo "commands: settable pin written; ungranted, unknown, retained refused with a reply"
}

# a table of malformed payloads: each one reply on BASE/error, nothing written
t_malformed() {
    start_all "--set pin.1" pin.1
    pub -t "$BASE/pin/pin.1/set" -m 1.5
    wait_for 10 "pin.1 out 1.5" out_is pin.1 1.5
    printf '1\0002' >"$T/nul.bin"
    head -c 200 /dev/zero | tr '\0' 7 >"$T/long.bin"
    local n=0 p
    for p in "" "abc" "12x" "1e999" "nan" "inf" " 1" "1 " "0x10" "true" "{\"v\":2}"; do
        pub -t "$BASE/pin/pin.1/set" -m "$p"; n=$((n + 1))
    done
    pub -t "$BASE/pin/pin.1/set" -m $'2\n'; n=$((n + 1))
    pub -t "$BASE/pin/pin.1/set" -f "$T/nul.bin"; n=$((n + 1))
    pub -t "$BASE/pin/pin.1/set" -f "$T/long.bin"; n=$((n + 1))
    wait_for 20 "$n error replies" errors_ge "$n"
    # a good command after them, so every bad one has been handled
    pub -t "$BASE/pin/pin.1/set" -m 2
    wait_for 10 "pin.1 out 2" out_is pin.1 2
    [ "$(errors)" = "$n" ] || fail "$(errors) error replies for $n bad payloads"
    grep -q "^$BASE/error pin/pin.1/set '1e999': out of range" "$T/sub.log" || fail "range reply"
    grep -q "^$BASE/error pin/pin.1/set '1\\\\x002': float" "$T/sub.log" || fail "NUL reply: $(grep x00 "$T/sub.log")"
    grep -q "^$BASE/error pin/pin.1/set '777.*\.\.\.': empty or too long" "$T/sub.log" || fail "long reply"
    # and none of them moved the pin in between: the out value history is
    # 1.5 then 2 (the gateway republishes out-only pins, not slots; check the region)
    echo "malformed: $n payloads, $n replies, pin unchanged"
}

# broker killed and restarted: the gateway reconnects and republishes
# retained state, including what changed while the broker was down
t_reconnect() {
    start_all ""
    "$RTOOL" set-in "$REGION" 2 5
    wait_for 10 "pin.2 5" last_is pin.2 5
    broker_stop
    for i in 1 2 3 4 5 6; do "$RTOOL" set-in "$REGION" 0 "$i"; done
    broker_start "$PORT" || fail "broker restart"
    : >"$T/sub.log"
    subscribe
    wait_for 30 "online again" sub_has "$BASE/status online"
    wait_for 10 "pin.0 6 after reconnect" last_is pin.0 6
    wait_for 10 "pin.2 5 republished" last_is pin.2 5
    [ "$(retained "$BASE/pin/pin.2")" = 5 ] || fail "pin.2 not retained after reconnect"
    grep -q "retrying" "$T/daemon.log" || fail "no outage line in the log"
    echo "reconnect: republished after a broker restart"
}

# SIGKILL: the broker publishes the will (offline); the daemon restarts the
# gateway (online). Clean stop: offline from the gateway itself.
t_will() {
    start_all ""
    local pid; pid=$(gw_pid)
    kill -KILL "$pid"
    wait_for 10 "offline (will)" sub_has "$BASE/status offline"
    wait_for 10 "gateway restarted" gw_running_new "$pid"
    wait_for 10 "online again" seen_ge "$BASE/status online" 2
    "$CTL" -s "$SOCK" stop gw >/dev/null || fail "ctl stop"
    wait_for 10 "offline after stop" seen_ge "$BASE/status offline" 2
    [ "$(retained "$BASE/status")" = offline ] || fail "retained status not offline"
    echo "will: offline on SIGKILL, online on restart, offline on stop"
}

# liveness: region detached (LinuxCNC stopped) -> hal-down, commands
# refused; a new region -> online again; daemon stalled (heartbeat stale) -> hal-down
t_halstate() {
    start_all "--set pin.1" pin.1
    # a fast LinuxCNC restart (new region at once) still shows as hal-down
    "$RTOOL" detach "$REGION"
    "$RTOOL" create "$REGION" 4 || fail "region again"
    wait_for 10 "hal-down on a fast reload" sub_has "$BASE/status hal-down"
    wait_for 10 "online after the reload" seen_ge "$BASE/status online" 2
    # LinuxCNC stopped: hal-down, commands refused
    "$RTOOL" detach "$REGION"
    wait_for 10 "hal-down" seen_ge "$BASE/status hal-down" 2
    pub -t "$BASE/pin/pin.1/set" -m 1
    wait_for 10 "refusal while down" errors_ge 1
    grep -q "pin/pin.1/set '1': HAL is down, nothing written" "$T/sub.log" || fail "down reply: $(grep error "$T/sub.log")"
    "$RTOOL" create "$REGION" 4 || fail "region again"
    wait_for 10 "online again" seen_ge "$BASE/status online" 3
    pub -t "$BASE/pin/pin.1/set" -m 4
    wait_for 10 "pin.1 out 4 on the new region" out_is pin.1 4
    # daemon stalled (SIGSTOP; killed, it takes its services with it): the
    # heartbeat goes stale, commands are refused, then it comes back
    kill -STOP "$DPID"
    wait_for 10 "hal-down on a stale heartbeat" seen_ge "$BASE/status hal-down" 3
    pub -t "$BASE/pin/pin.1/set" -m 5
    wait_for 10 "refusal while the heartbeat is stale" errors_ge 2
    kill -CONT "$DPID"
    wait_for 10 "online after the heartbeat resumes" seen_ge "$BASE/status online" 4
    out_is pin.1 4 || fail "written while HAL was down: pin.1 out $(out_of pin.1)"
    echo "halstate: hal-down on reload, detach and a stale heartbeat; writes refused meanwhile"
}

# a stalled broker (SIGSTOP: TCP buffers fill, nothing is acknowledged):
# the gateway keeps taking changes without a backlog (one value per pin,
# at most inflight messages queued) and the final value arrives once the
# broker resumes
t_slow() {
    start_all ""
    wait_for 10 "initial pin.0" sub_has "$BASE/pin/pin.0 0"
    kill -STOP "$BPID"
    local pid rss0 rss1; pid=$(gw_pid)
    rss0=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
    for i in $(seq 1 100); do "$RTOOL" set-in "$REGION" 0 "$i"; done
    rss1=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
    kill -CONT "$BPID"
    wait_for 20 "final value 100 after the stall" last_is pin.0 100
    [ $((rss1 - rss0)) -lt 2048 ] || fail "gateway grew $((rss1 - rss0)) kB during the stall"
    echo "slow: 100 changes during a broker stall, final exact, RSS +$((rss1 - rss0)) kB"
}

# the newer tests live one per file beside this one (t_NAME.sh), with the helpers above
[ -f "$(dirname "$0")/t_$TEST.sh" ] && . "$(dirname "$0")/t_$TEST.sh"
"t_$TEST"
# an ASan build's gateway would otherwise crash, be restarted and pass unnoticed
! grep -q Sanitizer "$T/daemon.log" 2>/dev/null || fail "sanitizer report: $(grep -A5 Sanitizer "$T/daemon.log")"
echo PASS
