# Named typed pins round-trip exactly through HAL, limits included:
# halpoke -> out pin -> net -> in pin -> halpoke, and setp -> halpoke.
. "$HMK_TESTLIB"
cat > typed.hal <<'HAL'
loadrt threads name1=servo-thread period1=1000000
loadrt hal_microkernel_bridge count=0 pins=bo:bit:out,bi:bit:in,fo:float:out,fi:float:in,so:s32:out,si:s32:in,uo:u32:out,ui:u32:in,fio:float:io,sin:s32:in
addf microkernel.read servo-thread
addf microkernel.write servo-thread
net b microkernel.bo => microkernel.bi
net f microkernel.fo => microkernel.fi
net s microkernel.so => microkernel.si
net u microkernel.uo => microkernel.ui
start
HAL
hal_load typed.hal
wait_cycles 2

# each line of ./roundtrips: write the out pin, wait (with a deadline) for
# the in pin to read back the value wanted, report the write's exit status
# and what the in pin reads
while IFS="|" read -r -u 3 out in value readback; do
    halpoke "$out" "$value" </dev/null; rc=$?
    wait_output 5 "$readback" halpoke "$in"
    echo "$out $value -> $in: exit $rc, reads $(halpoke "$in")"
done 3< <(grep -v -e "^#" -e "^$" "$(dirname "$0")/roundtrips")
# HAL's view agrees
echo "HAL fo: $(getp microkernel.fo)"
echo "HAL uo: $(getp microkernel.uo)"

# setp on an unconnected in pin reaches halpoke
hal_cmd setp microkernel.sin -2147483648
wait_output 5 -2147483648 halpoke sin
echo "sin after setp: $(halpoke sin)"

# io pin: a write drives HAL once; HAL's own later value is then read back,
# not overwritten by the stale write
halpoke fio 5.5
wait_until 5 pin_is microkernel.fio 5.5
echo "HAL fio after the write: $(getp microkernel.fio)"
hal_cmd setp microkernel.fio 7.25
wait_cycles 3
echo "HAL fio 3 cycles after setp: $(getp microkernel.fio)"
wait_output 5 7.25 halpoke fio
echo "fio after setp: $(halpoke fio)"

# a multi-pin write is one transaction: both land in the same cycle
saw "two-pin write" halpoke so 11 uo 22
wait_output 5 11 halpoke si
echo "si after the two-pin write: $(halpoke si)"
echo "ui when si had it: $(halpoke ui)"
