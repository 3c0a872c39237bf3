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

# roundtrip OUTPIN INPIN VALUE [EXPECTED]: write, then read back exactly
roundtrip() {
    local want=${4:-$3}
    halpoke "$1" "$3" || die "halpoke $1 $3 failed"
    wait_output 5 "$want" halpoke "$2" || die "$1=$3: $2 reads '$(halpoke "$2")', want '$want'"
    echo "$1 $3 -> $2 $(halpoke "$2")"
}
roundtrip bo bi true TRUE
roundtrip bo bi 0 FALSE
roundtrip bo bi 1 TRUE
roundtrip so si -2147483648
roundtrip so si 2147483647
roundtrip so si 0
roundtrip uo ui 4294967295
roundtrip uo ui 0
roundtrip fo fi -0.0 -0
roundtrip fo fi 1.7976931348623157e308 1.7976931348623157e+308
roundtrip fo fi -2.2250738585072014e-308 -2.2250738585072014e-308
roundtrip fo fi 0.1
roundtrip fo fi 123456789.123456789 123456789.12345679
# HAL's view agrees
[ "$(getp microkernel.fo)" = 123456789.1234568 ] || [ "$(getp microkernel.fo)" = 1.234568e+08 ] \
    || float_eq "$(getp microkernel.fo)" 123456789.12345679 || die "HAL shows fo=$(getp microkernel.fo)"
[ "$(getp microkernel.uo)" = 0 ] || die "HAL shows uo=$(getp microkernel.uo)"

# setp on an unconnected in pin reaches halpoke
hal_cmd setp microkernel.sin -2147483648
wait_output 5 -2147483648 halpoke sin || die "setp sin not seen"
echo "sin $(halpoke sin)"

# io pin: a write drives HAL once; HAL's own later value is then read back,
# not overwritten by the stale write
halpoke fio 5.5
wait_until 5 pin_is microkernel.fio 5.5 || die "fio write not in HAL"
hal_cmd setp microkernel.fio 7.25
wait_cycles 3
[ "$(getp microkernel.fio)" = 7.25 ] || die "bridge overwrote HAL's io value: $(getp microkernel.fio)"
wait_output 5 7.25 halpoke fio || die "io in side reads $(halpoke fio)"
echo "fio $(halpoke fio)"

# a multi-pin write is one transaction: both land in the same cycle
halpoke so 11 uo 22 || die "two-pin write failed"
wait_output 5 11 halpoke si || die "si"
[ "$(halpoke ui)" = 22 ] || die "ui did not land with si"
echo "txn ok"
