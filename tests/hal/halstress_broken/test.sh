# The deliberate-corruption test: halstress-broken is halstress over a copy
# of libhalmk built with -DHMK_BROKEN_SEQLOCK, whose readers skip the
# seqlock retry. halstress must catch the torn snapshots that lets through
# and fail; the real halstress, same load, same HAL, must pass. Records of
# 64 pins, 4 readers flat out: thousands of torn reads in 3 s on 2 CPUs.
. "$HMK_TESTLIB"
[ -x "$HMK_BIN/halstress-broken" ] || die "halstress-broken not built (BUILD_TESTING off?)"
{
    echo "loadrt threads name1=servo-thread period1=1000000"
    echo "loadrt hal_microkernel_bridge count=64"
    echo "addf microkernel.read servo-thread"
    echo "addf microkernel.write servo-thread"
    for i in $(seq 0 63); do
        echo "net loop$i microkernel.pin.$i.out => microkernel.pin.$i.in"
    done
    echo "start"
} > loop.hal
hal_load loop.hal
wait_cycles 2
halstress-broken -w 2 -r 4 -d 3 -i 0 --loopback > broken.out 2> broken.err
echo "broken exit $?"
sed 's/^/broken: /' broken.out
echo "broken torn lines $(grep -c 'torn .* snapshot' broken.err)"
halstress -w 2 -r 4 -d 3 -i 0 --loopback > clean.out 2> clean.err
echo "clean exit $?"
sed 's/^/clean: /' clean.out
sed 's/^/clean stderr: /' clean.err
