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
for i in $(seq 1 50); do halpoke --pulse p true || die "pulse $i"; done
for i in $(seq 1 25); do halpoke --pulse p true p true || die "double pulse $i"; done
# the start line and 200 edges; fewer (lost or merged pulses) only cost
# the deadline, the checks below say what went wrong
wait_until 10 sh -c '[ "$(wc -l < watch.out)" -ge 201 ]'
kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null
# watch.out: "cycle q VALUE" lines; the first is the state at start
awk 'NR > 1 { print $1, $3 }' watch.out > edges
ups=$(grep -c ' TRUE$' edges || true)
[ "$ups" = 100 ] || die "$ups rising edges, want 100"
# every TRUE lasts exactly one cycle: the next line is FALSE, one cycle later
awk '$2 == "TRUE" { up = $1; next } $2 == "FALSE" { if (up && $1 != up + 1) { print "pulse at " up " lasted " $1 - up; bad = 1 } up = 0 }
     END { exit bad }' edges || die "a pulse lasted more than one cycle: $(awk '$2 == "TRUE" { up = $1 } $2 == "FALSE" && $1 != up + 1 { print; exit }' edges)"
[ "$(getp microkernel.p)" = FALSE ] || die "p stayed TRUE"
echo "pulses: 100 of 100, each exactly one cycle"
# a pulse on an s32 out pin, and the bad ones
halpoke --pulse n 7 || die "s32 pulse"
halpoke --pulse q true 2>err.txt && die "a pulse on an in pin was accepted"
grep -q "pulses drive out pins and slots only" err.txt || die "in pin: $(cat err.txt)"
halpoke --pulse n 2147483648 2>err.txt && die "out of range accepted"
grep -q "out of range for s32" err.txt || die "range: $(cat err.txt)"
halpoke --pulse p 2>err.txt; [ $? = 2 ] || die "odd arguments not a usage error"
echo "pulse errors: ok"
