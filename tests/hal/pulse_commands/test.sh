# One-shot commands: 100 pulses on a bit out pin, sent as fast as halpoke
# can, each reach HAL as exactly one servo cycle TRUE between FALSE cycles,
# none lost, none merged (seen through a loopback into an in pin and the
# change stream, which records every cycle's change).
. "$HMK_TESTLIB"
cat > pulse.hal <<'HAL'
loadrt threads name1=servo-thread period1=1000000
loadrt hal_microkernel_bridge count=0 pins=p:bit:out,q:bit:in,n:s32:out,m:s32:in stream_depth=65536
addf microkernel.update servo-thread
net loop microkernel.p => microkernel.q
net loop2 microkernel.n => microkernel.m
start
HAL
hal_load pulse.hal
wait_cycles 2
# the watch lasts until every edge was seen (not a fixed time, which 75
# halpoke runs on a loaded machine could outlast); 10 min at most
halpoke --watch -t 600 q > watch.out &
watcher=$!
trap 'kill $watcher 2>/dev/null' EXIT
wait_until 5 test -s watch.out || die "watcher printed nothing"
# 50 single pulses, then 25 commands of two pulses on the same pin (they
# must come out one cycle apart, not merged)
failed=0
for i in $(seq 1 50); do halpoke --pulse p true || failed=$(( failed + 1 )); done
for i in $(seq 1 25); do halpoke --pulse p true p true || failed=$(( failed + 1 )); done
echo "pulse commands failed: $failed"
# the start line and 200 edges; fewer (lost or merged pulses) only cost
# the deadline, checkresult says what went wrong
wait_until 10 sh -c '[ "$(wc -l < watch.out)" -ge 201 ]'
kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null
# watch.out: "cycle q VALUE" lines; the first is the state at start
awk 'NR > 1 { print $1, $3 }' watch.out > edges
echo "rising edges: $(grep -c ' TRUE$' edges)"
# how many cycles each TRUE lasted: from its edge to the next FALSE edge
awk '$2 == "TRUE" { up = $1; next } $2 == "FALSE" && up { print $1 - up; up = 0 }' edges | sort -n > lengths
echo "shortest pulse: $(head -n 1 lengths) cycles"
echo "longest pulse: $(tail -n 1 lengths) cycles"
echo "p after the pulses: $(getp microkernel.p)"
# a pulse on an s32 out pin, and the bad ones
saw "s32 pulse" halpoke --pulse n 7
saw "pulse on an in pin" halpoke --pulse q true
saw "pulse out of range" halpoke --pulse n 2147483648
saw "pulse odd arguments" halpoke --pulse p
