# Unload and reload of the bridge: a new generation, and a process holding
# the old region learns it was detached (halpoke --watch exits saying so).
. "$HMK_TESTLIB"
cat > gen.hal <<'HAL'
loadrt threads name1=servo-thread period1=1000000
loadrt hal_microkernel_bridge
addf microkernel.update servo-thread
start
HAL
hal_load gen.hal
wait_cycles 2
gen1=$(halpoke --list | awk 'NR == 1 { print $6 }' | tr -d ,)
[ -n "$gen1" ] || die "no generation in halpoke --list"

halpoke --watch --timeout 60 pin.0 >watch.out 2>watch.err &
watcher=$!
wait_until 5 test -s watch.out || die "watcher printed nothing"
halpoke 0 >/dev/null || die "region not readable"

hal_cmd stop
hal_cmd unload hal_microkernel_bridge || die "unload failed"
# the watcher wakes at once (the bridge wakes waiters as it detaches)
wait_until 5 sh -c "! kill -0 $watcher 2>/dev/null"
echo "watcher gone after unload: $(kill -0 $watcher 2>/dev/null && echo no || echo yes)"
wait "$watcher"
echo "watcher exit: $?"
echo "watcher said: $(head -n 1 watch.err)"
echo "/dev/shm/hal-microkernel after unload: $([ -e /dev/shm/hal-microkernel ] && echo present || echo absent)"
saw "read of the unloaded region" halpoke 0

halcmd loadrt hal_microkernel_bridge >>"$HMK_WORK/hal.log" 2>&1 </dev/null || die "reload failed"
hal_cmd addf microkernel.update servo-thread
hal_cmd start
wait_cycles 2
echo "generation before: $gen1"
echo "generation after reload: $(halpoke --list | awk 'NR == 1 { print $6 }' | tr -d ,)"
saw "write to the new region" halpoke 2 4.5
wait_output 5 4.5 getp microkernel.pin.2.out
echo "new region pin.2.out: $(getp microkernel.pin.2.out)"
