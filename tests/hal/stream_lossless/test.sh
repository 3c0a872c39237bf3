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
# what each reader said (its count line, exit status, any error line) is
# printed; checkresult judges it
reader() { # NAME SLEEP_MS
    hmk-streamcheck t 10000 "$2" >"$1.out" 2>"$1.err"
    echo "$1 reader exit: $?"
    echo "$1 reader: $(cat "$1.out")"
    echo "$1 reader stderr: $(wc -l <"$1.err") lines$(head -n 1 "$1.err" | sed 's/^/, first: /')"
}
# slow on purpose: 16 records of ring, 30 ms asleep between reads
reader slow 30
halrun -U >>"$HMK_WORK/hal.log" 2>&1 </dev/null

sed -i 's/stream_depth=16/stream_depth=65536/' stream.hal
hal_load stream.hal
wait_cycles 5
reader fast 0
