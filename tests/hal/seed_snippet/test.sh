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
if halcmd net estop-signal microkernel.pin.3.in >>"$HMK_WORK/hal.log" 2>&1 </dev/null; then
    die "a bit signal joined a float pin"
fi

wait_cycles 2
# halpoke 0 prints what HAL feeds into microkernel.pin.0.in
wait_output 5 2.5 halpoke 0 || die "halpoke 0 gave '$(halpoke 0)', want 2.5"
echo "pin0 $(halpoke 0)"
# sets on a signal and setp on an unconnected in pin reach halpoke reads
hal_cmd sets probe 3.25
wait_output 5 3.25 halpoke pin.5 || die "sets probe 3.25 not seen: $(halpoke pin.5)"
hal_cmd setp microkernel.pin.6.in -7.5
wait_output 5 -7.5 halpoke microkernel.pin.6.in || die "setp pin.6.in not seen"
echo "pin5 $(halpoke pin.5) pin6 $(halpoke 6)"
# estop chain: not.0.out is TRUE (its input is FALSE) -> 1.0 in slot 3
wait_output 5 1 halpoke 3 || die "estop chain gave $(halpoke 3)"
echo "pin3 $(halpoke 3)"

# halpoke 1 12.5 reaches microkernel.pin.1.out (and stepgen) within two
# servo cycles of the write; the thread runs at 100 ms so shell overhead is
# small. The write happened before halpoke returned (cycle c1 or earlier):
# a look at cycle c1 + 2 or later that still finds the old value fails. How
# soon the first look comes depends on the machine's load; what each look
# found is measured, not assumed.
c0=$(update_count)
halpoke 1 12.5 || die "halpoke 1 12.5 failed"
c1=$(update_count)
seen= looks=0 late=
end=$(deadline 5)
while [ "${EPOCHREALTIME//[!0-9]/}" -lt "$end" ]; do
    snap=$(halcmd -s show pin microkernel 2>/dev/null)
    v=$(awk '$5 == "microkernel.pin.1.out" { print $4 }' <<<"$snap")
    n=$(awk '$5 == "microkernel.update-count" { print $4 }' <<<"$snap")
    n=$(( ${n:-0} ))   # as halcmd prints it: decimal, or hex (0x...)
    if [ "$v" = 12.5 ]; then
        seen=$n
        break
    fi
    looks=$((looks + 1))
    [ "$n" -ge $(( c1 + 2 )) ] && late=$n
    sleep 0.002
done
[ -n "$seen" ] || die "microkernel.pin.1.out never read 12.5"
[ -z "$late" ] || die "write not seen at cycle $late, halpoke returned at cycle $c1"
echo "write seen within 2 cycles: at cycle +$(( seen - c0 )), halpoke returned at +$(( c1 - c0 )), $looks earlier look(s)"
[ "$(getp stepgen.0.position-cmd)" = 12.5 ] || die "stepgen.0.position-cmd is $(getp stepgen.0.position-cmd)"
echo "stepgen $(getp stepgen.0.position-cmd)"

# update-count advances with the thread and stops with it
c1=$(update_count); wait_cycles 3; c2=$(update_count)
[ "$c2" -ge $(( c1 + 3 )) ] || die "update-count did not advance"
hal_cmd stop
c3=$(update_count); sleep 0.5; c4=$(update_count)
[ "$c3" = "$c4" ] || die "update-count moved while the thread was stopped ($c3 -> $c4)"
echo "update-count ok"
hal_cmd start
# connected stays FALSE without a daemon heartbeat
[ "$(getp microkernel.connected)" = FALSE ] || die "connected without a daemon"
echo "connected FALSE"
