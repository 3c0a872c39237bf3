#!/bin/bash
. "$(dirname "$0")/../lib.sh"

t_backoff() {
    conf "[service c]
exec = $SVC c crash 0 1
restart = always
backoff-initial = 1s
backoff-factor = 2
backoff-max = 4s
crash-limit = none"
    start_daemon
    wait_for 20 "5 starts" count_ge start c 5
    # delay between crash i and start i+1: 1, 2, 4, 4 s (steps this long
    # leave a second and more for a loaded machine's fork, exec and start-up
    # delay, which was seen to reach 480 ms beside other builds and tests)
    python3 - "$LOG" <<'PY' || fail "backoff delays wrong"
import sys
ev=[l.split() for l in open(sys.argv[1])]
starts=[int(e[3]) for e in ev if e[0]=='start']
crashes=[int(e[3]) for e in ev if e[0]=='crash']
want=[1000,2000,4000,4000]
# each delay is at least its step (5 ms of timer rounding) and short of
# the step after it (twice as long): a loaded machine adds scheduling
# delay, it does not add a whole step; 8000 would be the max not applied
for i,w in enumerate(want):
    d=(starts[i+1]-crashes[i])/1e6
    print("restart %d after %.1f ms (want %d, less than %d)"%(i+1,d,w,2*w-5))
    if not (w-5 <= d < 2*w-5): sys.exit(1)
PY
    stop_daemon
}

it_main
