#!/bin/bash
. "$(dirname "$0")/../lib.sh"

# sched = applies each class in the child before exec (chrt -p reads it back
# from the kernel), with reset-on-fork for the realtime ones; a class the
# kernel refuses leaves the service failed with one line naming the class,
# not running in some other class
t_sched() {
    # a container or cgroup may deny realtime classes even to root
    chrt -f 1 true 2>/dev/null && chrt -d --sched-runtime 1000000 --sched-deadline 10000000 \
        --sched-period 10000000 0 true 2>/dev/null || { echo "SKIP: this kernel refuses realtime classes to root"; exit 77; }
    conf "[service f]
exec = $SVC f run
sched = fifo:10
limit-rttime = 2s
[service r]
exec = $SVC r run
sched = rr:3
cpu-affinity = 0
[service d]
exec = $SVC d run
sched = deadline:1ms/10ms/10ms
[service b]
exec = $SVC b run
sched = batch
[service k]
exec = $SVC k run
restart = always
sched = deadline:1ms/5s/5s"
    start_daemon
    local s
    for s in f r d b; do wait_for 5 "$s running" state_is "$s" running; done
    wait_for 5 "k failed" state_is k failed
    policy() { chrt -p "$(field "$1" pid)" | sed -n 's/.*scheduling policy: //p'; }
    prio() { chrt -p "$(field "$1" pid)" | sed -n 's/.*scheduling priority: //p'; }
    [ "$(policy f)" = "SCHED_FIFO|SCHED_RESET_ON_FORK" ] || fail "f: policy $(policy f)"
    [ "$(prio f)" = 10 ] || fail "f: priority $(prio f)"
    grep -Eq '^Max realtime timeout +2000000 +2000000 +us' "/proc/$(field f pid)/limits" \
        || fail "f: limit-rttime not applied: $(grep realtime "/proc/$(field f pid)/limits")"
    [ "$(policy r)" = "SCHED_RR|SCHED_RESET_ON_FORK" ] || fail "r: policy $(policy r)"
    [ "$(prio r)" = 3 ] || fail "r: priority $(prio r)"
    [ "$(taskset -pc "$(field r pid)" | sed 's/.*: //')" = 0 ] || fail "r: affinity"
    [ "$(policy d)" = "SCHED_DEADLINE|SCHED_RESET_ON_FORK" ] || fail "d: policy $(policy d)"
    chrt -p "$(field d pid)" | grep -q "runtime/deadline/period parameters: 1000000/10000000/10000000" \
        || fail "d: parameters $(chrt -p "$(field d pid)")"
    [ "$(policy b)" = SCHED_BATCH ] || fail "b: policy $(policy b)"
    # the kernel's deadline period limit is 4.19 s (sched_deadline_period_max_us)
    [ "$(field k last_exit)" = "sched deadline:1ms/5s/5s refused: Invalid argument" ] \
        || fail "k: last exit '$(field k last_exit)'"
    [ "$(grep -c 'Service k: sched deadline:1ms/5s/5s refused: Invalid argument' "$DLOG")" = 1 ] \
        || fail "k: not said exactly once"
    [ "$(count start k)" = 0 ] || fail "k ran in another class"
    [ "$(field k restarts)" = 0 ] || fail "k: a refused class was retried"
    stop_daemon
    echo "sched: fifo:10, rr:3 on CPU 0, deadline 1ms/10ms/10ms and batch applied; refused: '$(grep -o 'Service k: .*' "$DLOG" | head -n 1)'"
}

it_main
