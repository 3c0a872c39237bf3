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
# try WANT_RC WANT_STDERR_TEXT ARGS...: exit status and one stderr line
try() {
    local want=$1 text=$2; shift 2
    halstress -i 0 "$@" >out 2>err; local rc=$?
    [ "$rc" = "$want" ] || die "halstress $*: exit $rc, want $want: $(cat err)"
    [ "$(wc -l < err)" = 1 ] || die "halstress $*: want one line, got: $(cat err)"
    grep -qF -- "$text" err || die "halstress $*: '$(cat err)' does not say '$text'"
    [ ! -s out ] || die "halstress $*: printed: $(cat out)"
    echo "ok $want: $*"
}
try 2 "--writers '0'" -w 0
try 2 "--rate 'fast'" --rate fast
try 2 "'--duration' needs a value" --duration
try 2 "--kill '0': must be a number from 0.001" --kill 0
try 2 "--kill 'often'" --kill often
try 2 "unknown option '--frob'" --frob
try 2 "unexpected argument 'extra'" extra
try 1 "region 'nosuch'" -R nosuch -d 1
try 1 "--pins 'nosuch': no such pin" --pins pin.0,nosuch -d 1
try 1 "--pins 'b': not a float pin" --pins pin.0,b -d 1
try 1 "--pins 'fin': has no out side" --pins pin.0,fin -d 1
try 1 "--pins 'pin.1': named twice" --pins pin.0,pin.1,pin.1 -d 1
try 1 "at least 2 float pins" --pins pin.0 -d 1
try 1 "--pins 'fout': has no in side" --pins pin.0,fout --loopback -d 1
# slots not netted: HAL's in pins never follow
try 1 "--loopback: HAL's in pins did not follow" --pins pin.0,pin.1 --loopback -d 1
# and good input still works: out-only pins, no loopback, a count
halstress -i 0 -w 2 -r 1 -n 500 --rate 1000 --pins fout,pin.2 > good.out 2>&1 || die "good run: $(cat good.out)"
grep -qx 'result: PASS' good.out || die "good run: $(cat good.out)"
awk '$1 == "writes" { exit !($2 == 1000) }' good.out || die "-n 500 with 2 writers: $(cat good.out)"
echo "ok 0: -n 500 --rate 1000 --pins fout,pin.2"
