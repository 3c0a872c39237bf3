#!/bin/bash
. "$(dirname "$0")/../lib.sh"

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

it_main
