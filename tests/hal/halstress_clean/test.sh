# halstress against a real HAL with loopback nets: 3 writers and 2 readers
# flat out for 5 s; every out and in snapshot must be one whole record,
# nothing may go backwards or be lost, and halstress must exit 0.
. "$HMK_TESTLIB"
{
    echo "loadrt threads name1=servo-thread period1=1000000"
    echo "loadrt hal_microkernel_bridge count=8"
    echo "addf microkernel.read servo-thread"
    echo "addf microkernel.write servo-thread"
    for i in 0 1 2 3 4 5 6 7; do
        echo "net loop$i microkernel.pin.$i.out => microkernel.pin.$i.in"
    done
    echo "start"
} > loop.hal
hal_load loop.hal
wait_cycles 2
halstress -w 3 -r 2 -d 5 -i 1 --loopback > stress.out 2> stress.err
rc=$?
cat stress.out
sed 's/^/stderr: /' stress.err
echo "exit $rc"
