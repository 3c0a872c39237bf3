# The change stream: a bit toggled every servo cycle for 10,000 cycles. A
# reader that keeps up sees every edge; one that sleeps between reads (and
# a ring of only 16 records) sees an exact count of what it missed, never
# a wrong record: events + lost = cycles, exactly.
. "$HMK_TESTLIB"
cat > stream.hal <<'HAL'
loadrt threads name1=servo-thread period1=1000000
loadrt charge_pump
loadrt hal_microkernel_bridge count=0 pins=t:bit:in stream_depth=16
addf charge-pump servo-thread
addf microkernel.read servo-thread
net tog charge-pump.out => microkernel.t
start
HAL
hal_load stream.hal
wait_cycles 5
# slow on purpose: 16 records of ring, 30 ms asleep between reads
hmk-streamcheck t 10000 30 > slow.out || die "slow reader: $(cat slow.out)"
read -r _ ev _ lost _ span < slow.out
[ "$lost" -gt 0 ] || die "a reader 30 ms behind a 16-record ring lost nothing: $(cat slow.out)"
echo "slow: events $ev + lost $lost = span $span"
halrun -U >>"$HMK_WORK/hal.log" 2>&1 </dev/null

sed -i 's/stream_depth=16/stream_depth=65536/' stream.hal
hal_load stream.hal
wait_cycles 5
hmk-streamcheck t 10000 0 > fast.out || die "fast reader: $(cat fast.out)"
read -r _ ev _ lost _ span < fast.out
[ "$lost" = 0 ] && [ "$ev" = "$span" ] || die "a reader that keeps up lost records: $(cat fast.out)"
echo "fast: events $ev lost $lost span $span"
