#!/bin/bash
. "$(dirname "$0")/../lib.sh"

t_reload() {
    conf "[service keep]
exec = $SVC keep run
[service change]
exec = $SVC change run
env = X=1
[service gone]
exec = $SVC gone run
[service broken]
exec = /nonexistent/hmk-gone"
    start_daemon
    wait_for 5 "3 running" eval 'state_is keep running && state_is change running && state_is gone running'
    wait_for 5 "broken failed" state_is broken failed
    local keep_pid change_pid
    keep_pid=$(field keep pid); change_pid=$(field change pid)
    conf "[service keep]
exec = $SVC keep run
[service change]
exec = $SVC change run
env = X=2
[service new]
exec = $SVC new run
[service broken]
exec = $SVC broken run"
    kill -HUP "$DPID"
    wait_for 5 "new running" eval 'ctl status new >/dev/null 2>&1 && state_is new running'
    wait_for 5 "gone removed" eval '! ctl status gone >/dev/null 2>&1'
    wait_for 5 "change restarted" eval '[ "$(count start change)" = 2 ] && state_is change running'
    [ "$(count stop gone)" = 1 ] || fail "removed service not stopped"
    [ "$(count stop change)" = 1 ] || fail "changed service not stopped once"
    [ "$(field change pid)" != "$change_pid" ] || fail "changed service kept its pid"
    [ "$(field keep pid)" = "$keep_pid" ] || fail "untouched service was restarted"
    [ "$(count start keep)" = 1 ] && [ "$(count stop keep)" = 0 ] || fail "untouched service touched"
    # a failed service whose configuration was fixed starts again
    wait_for 5 "fixed service running" state_is broken running
    stop_daemon
}

it_main
