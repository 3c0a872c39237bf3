#!/bin/bash
. "$(dirname "$0")/../lib.sh"

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

it_main
