# The original HAL Microkernel README's snippet, with real components standing
# in for motion, stepgen and iocontrol: siggen for motion.spindle-speed-out,
# stepgen itself, and not.0.out for iocontrol.0.user-enable-out (a bit).
. "$HMK_TESTLIB"
cat > seed.hal <<'HAL'
loadrt threads name1=servo-thread period1=100000000
loadrt siggen
loadrt stepgen step_type=0
loadrt not
loadrt conv_bit_float
addf siggen.0.update servo-thread
addf not.0 servo-thread
addf conv-bit-float.0 servo-thread
# ---- the snippet, as the original README wrote it ----
loadrt hal_microkernel_bridge
addf microkernel.update servo-thread
net spindle-speed siggen.0.sine => microkernel.pin.0.in
net axis-position microkernel.pin.1.out => stepgen.0.position-cmd
# ---- its third line needs a bit->float conversion: HAL refuses to join a
# ---- bit signal and a float pin (see the types= parameter for a bit slot)
net estop-signal not.0.out => conv-bit-float.0.in
net estop-float conv-bit-float.0.out => microkernel.pin.3.in
net probe microkernel.pin.5.in
setp siggen.0.amplitude 0
setp siggen.0.offset 2.5
start
HAL
hal_load seed.hal

# the verbatim third line fails with HAL's own type-mismatch error
saw "verbatim estop line" halcmd net estop-signal microkernel.pin.3.in

wait_cycles 2
# halpoke 0 prints what HAL feeds into microkernel.pin.0.in
wait_output 5 2.5 halpoke 0
echo "pin0: $(halpoke 0)"
# sets on a signal and setp on an unconnected in pin reach halpoke reads
hal_cmd sets probe 3.25
wait_output 5 3.25 halpoke pin.5
echo "pin5: $(halpoke pin.5)"
hal_cmd setp microkernel.pin.6.in -7.5
wait_output 5 -7.5 halpoke microkernel.pin.6.in
echo "microkernel.pin.6.in: $(halpoke microkernel.pin.6.in)"
echo "pin6: $(halpoke 6)"
# estop chain: not.0.out is TRUE (its input is FALSE) -> 1.0 in slot 3
wait_output 5 1 halpoke 3
echo "pin3: $(halpoke 3)"

# halpoke 1 12.5 returns once microkernel.pin.1.out (and stepgen) has the
# value: the next line of a script sees it. The bridge applied it in the
# first or second write function after the commit: halpoke waits for it in
# the region's out values, which the next read function publishes, so it
# returns within three cycles of its commit (the thread runs at 100 ms).
saw "halpoke 1 12.5" halpoke 1 12.5
snap=$(halcmd -s show pin microkernel 2>/dev/null)
echo "pin.1.out when halpoke returned: $(awk '$5 == "microkernel.pin.1.out" { print $4 }' <<<"$snap")"
echo "stepgen.0.position-cmd: $(getp stepgen.0.position-cmd)"

# update-count advances with the thread and stops with it
c1=$(update_count); wait_cycles 3; c2=$(update_count)
echo "update-count advance over 3 cycles: $(( c2 - c1 ))"
hal_cmd stop
c3=$(update_count); sleep 0.5; c4=$(update_count)
echo "update-count change in 0.5 s stopped: $(( c4 - c3 ))"
hal_cmd start
# connected stays FALSE without a daemon heartbeat
echo "connected without a daemon: $(getp microkernel.connected)"
