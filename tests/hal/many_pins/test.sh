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
    [ "$(halpoke --list | tail -n +4 | wc -l)" = $(( n + 1 )) ] || die "--list does not show $n+1 pins"
    [ "$(halcmd -s show pin microkernel.pin | grep -c " microkernel\.pin\.")" = $(( 2 * n )) ] || die "HAL lacks pins"
    last=$(( n - 1 ))
    halpoke $last 42.25 extra.bit 1 || die "write to pin $last failed"
    wait_output 5 42.25 getp microkernel.pin.$last.out || die "pin.$last.out"
    wait_output 5 TRUE getp microkernel.extra.bit || die "extra.bit"
    echo "pins $n ok; update.time $(getp microkernel.update.time)"
    halrun -U >>"$HMK_WORK/hal.log" 2>&1 </dev/null
done
