#!/bin/bash
. "$(dirname "$0")/../lib.sh"

# pid_max set low under fork churn: the daemon must never signal a wrong
# process. Runs the daemon in a new pid namespace (kernel.pid_max is per
# namespace since Linux 6.14) with pid_max 400, services crashing and being
# stopped, restarted and SIGKILLed after a stop timeout by the control
# socket, fork churn recycling pids, and victims outside the daemon's care
# that record any signal: they must get none, and pids must really repeat.
t_pidmax() {
    unshare -p -f --mount-proc sh -c 'echo 400 > /proc/sys/kernel/pid_max' 2>/dev/null || {
        echo "SKIP: cannot set kernel.pid_max in a new pid namespace (kernel < 6.14 or not root)"
        exit 77
    }
    HMK_IT_TEST=pidmax_inner unshare -p -f --mount-proc "$0" "$DAEMON" "$CTL" "$SVC" "$NOTIFY" ||
        fail "inside the pid namespace (see above)"
}

t_pidmax_inner() {
    echo 400 > /proc/sys/kernel/pid_max || fail "cannot set pid_max"
    local i victims=() churn=()
    : > "$T/signals"
    : > "$T/ready"
    for i in $(seq 1 20); do
        bash -c 'for s in TERM INT HUP USR1 USR2 QUIT ALRM; do trap "echo $$ $s >> '"$T"'/signals" $s; done
                 echo $$ >> '"$T"'/ready
                 while :; do read -r -t 0.2 <> <(:) || :; done' &
        victims+=($!)
    done
    # every victim has its traps before anyone signals one (a USR2 before
    # the trap is set kills it: seen on a loaded machine)
    wait_for 10 "victim traps set" eval '[ "$(wc -l < "$T/ready")" = 20 ]'
    # the victims' record works: one signalled on purpose is written down
    # (its USR2 lines are the only ones allowed in the end)
    kill -USR2 "${victims[0]}"
    wait_for 5 "the signalled victim wrote it down" test -s "$T/signals"
    conf "[service crasher]
exec = $SVC crasher crash 0 1
backoff-initial = 1ms
backoff-max = 5ms
crash-limit = none

[service sleeper]
exec = $SVC sleeper run
backoff-initial = 1ms

[service stubborn]
exec = $SVC stubborn ignore-term
stop-timeout = 50ms
backoff-initial = 1ms"
    start_daemon
    for i in 1 2; do
        ( while :; do /bin/true; done ) &
        churn+=($!)
    done
    # 15 s of it at least, and on until pids were seen to repeat (a loaded
    # machine forks fewer per second; 15 s once gave 41 starts, 7 pids
    # reused), 3 min at most
    pids_reused() { awk '$1 == "start" { n[$3]++ } END { r = 0; for (p in n) if (n[p] > 1) r++; print r }' "$LOG"; }
    local t=$(date +%s) ops=0
    local end=$((t + 15)) last=$((t + 180))
    while [ "$(date +%s)" -lt "$end" ] || { [ "$(pids_reused)" -lt 10 ] && [ "$(date +%s)" -lt "$last" ]; }; do
        ctl restart sleeper >/dev/null; ctl restart stubborn >/dev/null
        ctl stop crasher >/dev/null; ctl start crasher >/dev/null
        ops=$((ops + 4))
    done
    kill "${churn[@]}" 2>/dev/null; wait "${churn[@]}" 2>/dev/null
    local alive=0 p
    for p in "${victims[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
    local wrong; wrong=$(grep -v "^${victims[0]} USR2\$" "$T/signals")
    [ -z "$wrong" ] || fail "victims got signals: $(echo "$wrong" | sort | uniq -c | head)"
    [ "$alive" = 20 ] || fail "only $alive of 20 victims alive"
    local starts reused
    starts=$(grep -c '^start ' "$LOG")
    reused=$(pids_reused)
    [ "$reused" -ge 10 ] || fail "pids did not recycle ($starts starts, $reused pids reused)"
    wait_for 5 "no zombies" no_zombies
    stop_daemon
    kill "${victims[@]}" 2>/dev/null
    echo "pidmax: pid_max 400, $starts service starts, $reused pids reused, $ops control requests, 20 victims got no signal"
}

it_main
