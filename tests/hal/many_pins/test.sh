# 256 slots plus named pins: all exist in HAL, a write to the last one
# lands, and the thread's time for 16 and 256 pins is reported.
. "$HMK_TESTLIB"
for n in 16 256; do
    cat > many.hal <<HAL
loadrt threads name1=servo-thread period1=1000000
loadrt hal_microkernel_bridge count=$n pins=extra.bit:bit:out
addf microkernel.update servo-thread
start
HAL
    hal_load many.hal
    wait_cycles 20
    echo "count=$n pins halpoke lists: $(halpoke --list | tail -n +4 | wc -l)"
    echo "count=$n slot pins in HAL: $(halcmd -s show pin microkernel.pin | grep -c " microkernel\.pin\.")"
    last=$(( n - 1 ))
    saw "count=$n write to pin $last and extra.bit" halpoke $last 42.25 extra.bit 1
    wait_output 5 42.25 getp microkernel.pin.$last.out
    echo "count=$n pin.$last.out: $(getp microkernel.pin.$last.out)"
    wait_output 5 TRUE getp microkernel.extra.bit
    echo "count=$n extra.bit: $(getp microkernel.extra.bit)"
    # reported, not judged: the thread's time for this many pins
    echo "count=$n update.time: $(getp microkernel.update.time)"
    halrun -U >>"$HMK_WORK/hal.log" 2>&1 </dev/null
done
