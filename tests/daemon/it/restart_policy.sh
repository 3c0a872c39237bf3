#!/bin/bash
. "$(dirname "$0")/../lib.sh"

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

it_main
