#!/bin/bash
. "$(dirname "$0")/../lib.sh"

# A service crash-looping for a full minute (every exit restarted after
# 10 ms, no crash limit) beside one with a crash limit: the loop goes on at
# the backoff's pace, the other gives up and stays failed, the daemon's CPU
# stays low and its log is rate-limited, with every held-back line counted
# in a "suppressed" line. The 60 s sleep is the measurement window.
t_crashloop() {
    LOGLEVEL=info conf "[service loop]
exec = $SVC loop crash 0 1
restart = always
backoff-initial = 10ms
backoff-max = 10ms
crash-limit = none

[service gaveup]
exec = $SVC gaveup crash 0 1
restart = always
backoff-initial = 10ms
backoff-max = 10ms
crash-limit = 3 in 60s"
    start_daemon
    wait_for 10 "gaveup failed" state_is gaveup failed
    local g0 t0 t1 s0 s1 w0 w1 lines logged held p0 p1 pfd
    # the peer, measured in the same run just before and after the minute:
    # this shell running the same program in a loop with the same 10 ms
    # pause, for 2 s (what a loaded machine allows; starts per second)
    exec {pfd}<> <(:)
    peer_rate() {
        local n=0 end=$(( ${EPOCHREALTIME//[!0-9]/} + 2000000 ))
        while [ "${EPOCHREALTIME//[!0-9]/}" -lt "$end" ]; do
            HMK_TEST_LOG=/dev/null "$SVC" peer crash 0 1
            read -r -t 0.01 -u "$pfd"
            n=$((n + 1))
        done
        echo $((n / 2))
    }
    p0=$(peer_rate)
    g0=$(count start gaveup) s0=$(count start loop)
    t0=$(awk '{print $14+$15}' /proc/$DPID/stat) w0=$(date +%s%N)
    sleep 60
    t1=$(awk '{print $14+$15}' /proc/$DPID/stat) w1=$(date +%s%N)
    s1=$(count start loop)
    p1=$(peer_rate)
    exec {pfd}<&-
    ctl status >/dev/null || fail "control socket unresponsive after the minute"
    [ "$(count start gaveup)" = "$g0" ] || fail "gaveup restarted after giving up ($g0 -> $(count start gaveup) starts)"
    [ "$(field gaveup state)" = failed ] || fail "gaveup left failed: $(field gaveup state)"
    # a crasher that just exited is a zombie until the daemon's next loop
    # pass reaps it: a leak is one that stays
    wait_for 10 "no zombies after a minute of crashes" no_zombies
    local starts=$((s1 - s0)) ms=$(( (w1 - w0) / 1000000 ))
    # kept restarting, and never faster than the 10 ms backoff allows: at
    # least 1000 in the minute, or, on a machine so loaded that the shell
    # managed less, half of what the slower of the shell's two runs would
    # have managed in the minute
    local need=$(( 1000 / SLOW )) peer=$(( (p0 < p1 ? p0 : p1) * ms / 2000 ))
    [ "$peer" -lt "$need" ] && need=$peer
    [ "$starts" -ge "$need" ] || fail "only $starts restarts in $ms ms (want $need; the shell: $p0/s before, $p1/s after)"
    [ "$starts" -le $(( ms / 10 + 1 )) ] || fail "$starts restarts in $ms ms: faster than the backoff"
    # low CPU: under 10 % of one CPU for about $starts fork/exec/reaps
    [ $((t1 - t0)) -le $(( ms * SLOW / 100 ))  ] || fail "daemon used $((t1 - t0)) ticks in $ms ms"
    stop_daemon
    lines=$(wc -l < "$DLOG")
    [ "$lines" -le 200 ] || fail "$lines log lines for $starts crashes"
    # every lifecycle line about loop was either logged or counted
    logged=$(grep -cE '^<[0-9]>(Started service loop |Service loop exited|Restarting service loop )' "$DLOG")
    held=$(awk '/^<4>Service loop: [0-9]+ more lines about it suppressed/ { n += $3 } END { print n + 0 }' "$DLOG")
    local total; total=$(count start loop)
    # per start: started + exited + restarting (3 lines). The last start may
    # have been stopped rather than crashed (1 to 3 lines), and the daemon's
    # "Started" can precede a start the service never got to record (killed
    # by the stop first): within one lifecycle either way, never more off.
    [ $((logged + held)) -ge $((3 * total - 3)) ] && [ $((logged + held)) -le $((3 * total + 3)) ] \
        || fail "loop: $logged lines logged + $held suppressed for $total starts"
    echo "crashloop: $starts restarts in $ms ms (at least $need: the shell $p0/s before, $p1/s after)," \
         "daemon $((t1 - t0)) ticks, $lines log lines" \
         "($logged logged + $held suppressed), gaveup stayed failed"
}

it_main
