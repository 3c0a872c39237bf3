#!/bin/bash
. "$(dirname "$0")/../lib.sh"

# A service is its process group: a stop ends all of it (a member that
# handles SIGTERM at once; a double-forked one that ignores SIGTERM, after
# stop-timeout), and so does its main process's crash, before it restarts:
# no run of a service ever runs beside what is left of the last one.
t_stop_group() {
    conf "[service g]
exec = $SVC g group 0
stop-timeout = 500ms

[service c]
exec = $SVC c group 1000
restart = always
backoff-initial = 100ms
stop-timeout = 500ms"
    start_daemon
    pid_of() { awk -v e="$1" -v n="$2" '$1 == e && $2 == n { print $3 }' "$LOG" | sed -n "${3:-1}p"; }
    # gone: no such process, or a zombie (reaped by whoever its parent is now)
    gone() { [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != S ] &&
             [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != R ]; }
    wait_for 5 "members up" eval 'count_ge member g 1 && count_ge stubborn g 1 && count_ge stubborn c 1'
    local m st c1 cm1 t0 t1
    m=$(pid_of member g) st=$(pid_of stubborn g)
    ! gone "$m" && ! gone "$st" || fail "members not running"
    t0=$(date +%s%N)
    ctl stop g >/dev/null || fail "ctl stop"
    wait_for 5 "g stopped" state_is g stopped
    wait_for 5 "member gone" gone "$m"
    grep -q "^stop g $m " "$LOG" || fail "the member did not get SIGTERM"
    wait_for 5 "stubborn member gone" gone "$st"
    t1=$(date +%s%N)
    [ $(( (t1 - t0) / 1000000 )) -ge 450 ] || fail "the stubborn one went before stop-timeout"
    log_has "Service g: processes left in its group after its main process ended" ||
        fail "no SIGKILL for what was left logged"
    # the crash: what the first run left is gone, the member by SIGTERM
    wait_for 10 "c restarted" count_ge start c 2
    c1=$(pid_of stubborn c) cm1=$(pid_of member c)
    wait_for 5 "first run's member gone" gone "$cm1"
    grep -q "^stop c $cm1 " "$LOG" || fail "c's member did not get SIGTERM when c crashed"
    wait_for 5 "first run's stubborn one gone" gone "$c1"
    wait_for 10 "no zombies" no_zombies
    wait_for 5 "second run's stubborn one up" eval '[ -n "$(pid_of stubborn c 2)" ]'
    c1=$(pid_of stubborn c 2)
    stop_daemon
    # the daemon gone, nothing of its services stays
    wait_for 5 "nothing left after the daemon" gone "$c1"
    echo "stop_group: stop ended the member on SIGTERM and the stubborn one after $(( (t1 - t0) / 1000000 )) ms;" \
         "a crash ended the rest of its group before the restart"
}

it_main
