#!/bin/bash
. "$(dirname "$0")/../lib.sh"

t_kill200() {
    conf "[service k]
exec = $SVC k run
restart = always
backoff-initial = 0
crash-limit = none"
    start_daemon
    local i pid prev=0
    # one control request per poll (not one per field): 200 rounds of
    # polling are most of what this test costs on a loaded machine
    running_new() { # N: the Nth instance logged its start and runs, pid in $pid
        local line st
        [ "$(count start k)" -ge "$1" ] && line=$(ctl status k) || return 1
        read -r _ st pid _ <<<"${line#*$'\n'}"
        [ "$st" = running ] && [ "$pid" != - ] && [ "$pid" != "$prev" ]
    }
    for i in $(seq 1 200); do
        wait_for 10 "running instance $i" running_new "$i"
        kill -KILL "$pid"
        prev=$pid
    done
    wait_for 10 "201st start" count_ge start k 201
    wait_for 10 "restart count 200" eval '[ "$(field k restarts)" = 200 ]'
    [ "$(count start k)" = 201 ] || fail "starts $(count start k) != 201"
    wait_for 5 "no zombies" no_zombies
    [ "$(field k last_exit)" = "killed by SIGKILL" ] || fail "last exit $(field k last_exit)"
    stop_daemon
}

it_main
