#!/bin/bash
. "$(dirname "$0")/../lib.sh"

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

it_main
