# The fault latch: when the daemon that was connected goes stale, fault is
# set and each out pin follows its policy (hold, or a safe value) until a
# rising edge on fault-reset while the daemon is connected again.
# timeout_ms is 30 heartbeats: a daemon starved by a loaded machine (test.sh
# --hog, a sanitized build) must not latch a fault this test did not cause.
# spin's safe value is written in hex (0x10 = 16): the one value syntax.
. "$HMK_TESTLIB"
daemon=$HMK_BIN/daemon/hal-microkernel
cat > hmk.ini <<'INI'
[daemon]
heartbeat-period = 100ms
control-socket = none
INI
cat > fault.hal <<'HAL'
loadrt threads name1=servo-thread period1=1000000
loadrt hal_microkernel_bridge count=2 safe=0,hold pins=coolant:bit:out:false,feed:float:io:hold,spin:s32:out:0x10 timeout_ms=3000
addf microkernel.update servo-thread
start
HAL
hal_load fault.hal
outs() { echo "$(getp microkernel.pin.0.out) $(getp microkernel.pin.1.out) $(getp microkernel.coolant) $(getp microkernel.feed) $(getp microkernel.spin)"; }

# no daemon ever: writes pass through, no fault
halpoke pin.0 1 pin.1 2 coolant true feed 0.5 spin 3 || die "write"
wait_output 5 "1 2 TRUE 0.5 3" outs
echo "no daemon outs: $(outs)"
echo "no daemon fault: $(getp microkernel.fault)"

start_daemon() { "$daemon" -c hmk.ini 2>>daemon.log & dpid=$!; }
start_daemon
trap 'kill -9 $dpid 2>/dev/null' EXIT
wait_output 10 TRUE getp microkernel.connected
echo "daemon started connected: $(getp microkernel.connected)"
halpoke pin.0 5 pin.1 6 coolant true feed 2.5 spin 7 || die "write"
wait_output 5 "5 6 TRUE 2.5 7" outs
echo "connected outs: $(outs)"

kill -9 $dpid; wait $dpid 2>/dev/null
wait_output 5 TRUE getp microkernel.fault
echo "daemon died fault: $(getp microkernel.fault)"
echo "daemon died connected: $(getp microkernel.connected)"
# safe values driven, held ones kept
wait_output 5 "0 6 FALSE 2.5 16" outs
echo "fault outs: $(outs)"
# writes while faulted do not reach HAL
halpoke pin.1 9 feed 4.5 || die "write during fault"
wait_cycles 20
echo "write during the fault outs: $(outs)"
# reset while the daemon is still gone does nothing
hal_cmd setp microkernel.fault-reset 1
wait_cycles 20
echo "reset without a daemon fault: $(getp microkernel.fault)"
hal_cmd setp microkernel.fault-reset 0

# the daemon comes back: still latched until reset
start_daemon
wait_output 10 TRUE getp microkernel.connected
echo "daemon restarted connected: $(getp microkernel.connected)"
wait_cycles 20
echo "reconnected, no reset fault: $(getp microkernel.fault)"
echo "reconnected, no reset outs: $(outs)"
hal_cmd setp microkernel.fault-reset 1
wait_output 5 FALSE getp microkernel.fault
echo "reset fault: $(getp microkernel.fault)"
# the region's latest values apply again
wait_output 5 "5 9 TRUE 4.5 7" outs
echo "reset outs: $(outs)"
