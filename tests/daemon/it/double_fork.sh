#!/bin/bash
. "$(dirname "$0")/../lib.sh"

t_double_fork() {
    conf "[service d]
exec = $SVC d double-fork"
    start_daemon
    wait_for 5 "grandchild exit" count_ge grandchild-exit d 1
    wait_for 5 "orphan reaped" log_has "Reaped orphaned process"
    wait_for 5 "no zombies" no_zombies
    state_is d running || fail "service not running"
    stop_daemon
}

it_main
