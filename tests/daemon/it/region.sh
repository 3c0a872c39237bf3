#!/bin/bash
. "$(dirname "$0")/../lib.sh"

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

it_main
