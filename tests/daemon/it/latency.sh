#!/bin/bash
. "$(dirname "$0")/../lib.sh"

t_latency() {
    conf "[service l]
exec = $SVC l crash 0 1
restart = always
backoff-initial = 0
crash-limit = none"
    LOGLEVEL=warning
    # the peer, measured in the same run: this shell restarting the same
    # program 30 times (its exit to the next start), which is what a loaded
    # machine slows down just as it slows the daemon
    local i
    for i in $(seq 1 30); do "$SVC" sh crash 0 1; done
    start_daemon
    wait_for 30 "101 starts" count_ge start l 101
    python3 - "$LOG" "$SLOW" <<'PY' || fail "latency"
import sys, statistics
ev=[l.split() for l in open(sys.argv[1])]
def gaps(name, n):
    starts=[int(e[3]) for e in ev if e[0]=='start' and e[1]==name]
    crashes=[int(e[3]) for e in ev if e[0]=='crash' and e[1]==name]
    return [(starts[i+1]-crashes[i])/1e3 for i in range(n)]
d, sh = gaps('l', 100), gaps('sh', 29)
m, msh = statistics.median(d), statistics.median(sh)
# 50 ms on any machine; more only when the shell was that slow too
bound = max(50000 * int(sys.argv[2]), 4 * msh)
print("restart latency over 100 crashes: median %.0f us, min %.0f, max %.0f;"
      " the shell's over 29: median %.0f us; bound %.0f us" % (m, min(d), max(d), msh, bound))
sys.exit(0 if m < bound else 1)
PY
    stop_daemon
}

it_main
