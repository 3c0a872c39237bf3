#!/bin/bash
. "$(dirname "$0")/../lib.sh"

# Reaction-time telemetry: a framework service whose handler sleeps past its
# deadline on every 10th change gets exactly that many misses; the first is
# logged at once; the counts survive a restart; a hostile service (another
# uid) that scribbles over its own block and tries to resize it disturbs
# neither the daemon nor the other service's numbers
t_deadline() {
    [ "$(id -u)" = 0 ] || { echo "needs root for user = nobody"; exit 77; }
    # ready = fd: running means subscribed, so no change below can come
    # before the service follows the stream
    conf "[service r]
exec = $REACT 10000 10
deadline = 8s
ready = fd
[service bad]
exec = $REACT scribble
user = nobody
deadline = 5ms
ready = fd"
    "$RTOOL" create "$REGION" 1 || fail "create"
    start_daemon
    wait_for 5 "r running" state_is r running
    wait_for 5 "bad running" state_is bad running
    # stat NAME FIELD: one number of `stats NAME --json`
    stat() { ctl --json stats "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['$2'])"; }
    # the count from the table: no interpreter started per poll
    reactions_ge() { [ "$(ctl stats "$1" | awk 'NR == 2 { print $3 }')" -ge "$2" ]; }
    local v
    # an 8 s deadline: a reaction that does not sleep stays far below it
    # even on a loaded machine, and above the 5 s an armed wait may sleep
    # when a wake-up goes missing (seen here, under investigation: a
    # reaction in the 4-8 s bucket); the ones that sleep 10 s are far above
    for v in $(seq 1 20); do
        "$RTOOL" set-in "$REGION" 0 "$v" >/dev/null || fail "set-in $v"
        # one change at a time: each is its own reaction (the 10th sleeps 10 s)
        wait_for 20 "reaction $v" reactions_ge r "$v"
    done
    [ "$(stat r count)" = 20 ] || fail "r: $(stat r count) reactions for 20 changes"
    [ "$(stat r misses)" = 2 ] || fail "r: $(stat r misses) misses, want 2 (values 10 and 20 slept 10 s past an 8 s deadline; $(ctl --json stats r))"
    [ "$(stat r max_ns)" -ge 10000000000 ] || fail "r: worst $(stat r max_ns) ns, the slept ones took 10 s"
    [ "$(stat r deadline_ns)" = 8000000000 ] || fail "r: deadline $(stat r deadline_ns)"
    wait_for 5 "first miss logged" log_has '\[DEADLINE\] Service r missed its 8000 ms deadline 1 more time (1 of [0-9]* reactions; worst 10'
    # the second is gathered: at most one line per 10 s after the first
    local lines; lines=$(grep -c '\[DEADLINE\] Service r ' "$DLOG")
    [ "$lines" -ge 1 ] && [ "$lines" -le 2 ] || fail "$lines [DEADLINE] lines for 2 misses"
    ctl stats | grep -Eq '^r +8.00s +20 +2 ' || fail "stats table: $(ctl stats)"
    # the block outlives the process
    local p1; p1=$(field r pid)
    kill -KILL "$p1"
    wait_for 10 "r restarted" eval '[ "$(field r pid)" != "$p1" ] && [ "$(field r pid)" != 0 ] && state_is r running'
    [ "$(stat r count)" = 20 ] && [ "$(stat r misses)" = 2 ] ||
        fail "r: the numbers did not survive the restart: $(ctl --json stats r)"
    "$RTOOL" set-in "$REGION" 0 21 >/dev/null || fail "set-in 21"
    # the new process adds to them, within its deadline: a restarted service
    # that reported ready misses no change (before the framework reported
    # ready only after subscribing, a change in between was seen seconds
    # late or never)
    wait_for 20 "reaction after restart" reactions_ge r 21
    [ "$(stat r misses)" = 2 ] || fail "r: the first reaction after the restart missed: $(ctl --json stats r)"
    # the hostile one: its numbers are its own garbage, nothing else moved
    log_has "scribbled over the telemetry block; resizing refused" || fail "bad did not scribble"
    [ "$(stat bad count)" = 18446744073709551615 ] || fail "bad: scribble not seen: $(stat bad count)"
    kill -0 "$DPID" || fail "daemon died"
    ctl stats >/dev/null || fail "stats after the scribble"
    state_is r running && state_is bad running || fail "a service went down: $(ctl status)"
    [ "$(stat r count)" = 21 ] || fail "r disturbed: $(stat r count)"
    stop_daemon
    echo "deadline: 21 reactions, 2 misses of 8 s; '$(grep -o '\[DEADLINE\].*' "$DLOG" | head -n 1)'"
}

it_main
