# Fault: how fast HAL learns that the daemon is gone, with a heartbeat that
# would take 20 s to go stale (timeout_ms=20000, heartbeat-period = 5s):
#  - SIGKILL: the kernel marks the daemon's alive word as its thread dies,
#    and the bridge turns connected off in its next cycle (the fault latch
#    sets, as it always did), seconds before any heartbeat could tell;
#  - a clean stop (SIGTERM): the daemon clears the word, the same;
#  - a hung daemon (SIGSTOP) is still alive: connected stays on (until the
#    heartbeat goes stale, which tests/hal's shorter timeouts show).
. "$HMK_SRC/tests/hal/svc_lib.sh"
cat > bridge.hal <<HAL
loadrt threads name1=servo-thread period1=1000000
loadrt hal_microkernel_bridge count=0 pins=t:float:out timeout_ms=20000
addf microkernel.update servo-thread
start
HAL
hal_load bridge.hal
wait_cycles 2
daemon_ini | sed 's/^heartbeat-period = .*/heartbeat-period = 5s/' > hmk.ini
ms_since() { echo $(( (${EPOCHREALTIME//[!0-9]/} - $1) / 1000 )); }
# reset: the latch clears on a rising edge of fault-reset while connected
reset() {
    hal_cmd setp microkernel.fault-reset 0
    hal_cmd setp microkernel.fault-reset 1
    wait_output 5 FALSE getp microkernel.fault || die "fault not reset"
}

# died T0 C0 WHAT: connected FALSE and fault TRUE, well before the 20 s
# heartbeat timeout could have done it (the bound is half of it: the alive
# word takes a cycle, a loaded machine's halcmd some more)
died() {
    local t0=$1 c0=$2 ms c1
    wait_output 30 FALSE getp microkernel.connected || die "$3: still connected 30 s later"
    ms=$(ms_since "$t0") c1=$(update_count)
    [ "$ms" -lt 10000 ] || die "$3: connected FALSE only after $ms ms: the heartbeat timeout, not the alive word"
    [ "$(getp microkernel.fault)" = TRUE ] || die "$3: fault not latched"
    echo "$3: connected FALSE after $ms ms (bridge cycle $((c1 - c0)) after the kill at most), fault latched; heartbeat timeout 20000 ms"
}

daemon_start hmk.ini
wait_output 10 TRUE getp microkernel.connected || die "not connected"
reset
c0=$(update_count) t0=${EPOCHREALTIME//[!0-9]/}
kill -9 "$dpid"; wait "$dpid" 2>/dev/null
died "$t0" "$c0" "daemon killed"

daemon_start hmk.ini
wait_output 10 TRUE getp microkernel.connected || die "new daemon not connected"
reset
# hung: still alive, so still connected (the heartbeat would take 20 s)
kill -STOP "$dpid"
wait_cycles 200
[ "$(getp microkernel.connected)" = TRUE ] || die "a stopped daemon taken for dead"
kill -CONT "$dpid"
echo "daemon stopped (SIGSTOP) for 200 cycles: still connected"
c0=$(update_count) t0=${EPOCHREALTIME//[!0-9]/}
kill -TERM "$dpid"
died "$t0" "$c0" "daemon stopped cleanly"
wait "$dpid" 2>/dev/null
svc_clean
