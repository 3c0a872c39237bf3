#!/bin/bash
. "$(dirname "$0")/../lib.sh"

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

it_main
