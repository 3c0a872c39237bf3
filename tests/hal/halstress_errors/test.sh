# Bad input gets one line naming it and a non-zero exit; nothing runs.
. "$HMK_TESTLIB"
cat > pins.hal <<'HAL'
loadrt threads name1=servo-thread period1=1000000
loadrt hal_microkernel_bridge count=3 pins=b:bit:out,fin:float:in,fout:float:out
addf microkernel.read servo-thread
addf microkernel.write servo-thread
start
HAL
hal_load pins.hal
wait_cycles 2
# each case in ./cases: run halstress with its arguments and report its
# exit status, how many error lines, whether it printed on stdout, and its
# first error line
while IFS='|' read -r _ _ args; do
    # shellcheck disable=SC2086
    halstress -i 0 $args >out 2>err </dev/null
    rc=$?
    [ ! -s out ] && out="no output" || out="output on stdout"
    echo "halstress $args: exit $rc, $(wc -l < err) error lines, $out: $(head -n 1 err)"
done < <(grep -v -e "^#" -e "^$" "$(dirname "$0")/cases")
# and good input still works: out-only pins, no loopback, a count
halstress -i 0 -w 2 -r 1 -n 500 --rate 1000 --pins fout,pin.2 > good.out 2>&1
echo "good run exit: $?"
echo "good run $(grep '^result:' good.out)"
echo "good run writes: $(awk '$1 == "writes" { print $2 }' good.out)"
