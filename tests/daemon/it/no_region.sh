#!/bin/bash
. "$(dirname "$0")/../lib.sh"

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

it_main
