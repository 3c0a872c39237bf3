#!/bin/bash
. "$(dirname "$0")/../lib.sh"

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

it_main
