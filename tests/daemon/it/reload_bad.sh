#!/bin/bash
. "$(dirname "$0")/../lib.sh"

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

it_main
