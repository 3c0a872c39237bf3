# halpoke's bad inputs: each gets one error line and its exit status, and
# the region is unchanged afterwards (nothing half-applied).
. "$HMK_TESTLIB"
cat > err.hal <<'HAL'
loadrt threads name1=servo-thread period1=1000000
loadrt hal_microkernel_bridge count=4 pins=b:bit:out,s:s32:out,u:u32:out,hin:float:in
addf microkernel.update servo-thread
start
HAL
hal_load err.hal
wait_cycles 2
halpoke 0 1.5 1 2.5 b true s -3 u 7 || die "setup write failed"
before=$(halpoke --list | tail -n +3)

# each case: exit status | expected stderr fragment | arguments
while IFS='|' read -r want frag args; do
    [ -n "$want" ] || continue
    # shellcheck disable=SC2086
    eval "set -- $args"
    halpoke "$@" >out.txt 2>err.txt; rc=$?
    [ $rc -eq "$want" ] || die "halpoke $args: exit $rc, want $want"
    [ "$(wc -l <err.txt)" -ge 1 ] || die "halpoke $args: no error line"
    if [ "$want" = 1 ]; then
        [ "$(wc -l <err.txt)" -eq 1 ] || die "halpoke $args: more than one line: $(cat err.txt)"
    fi
    grep -qF -- "$frag" err.txt || die "halpoke $args: said '$(cat err.txt)', want '$frag'"
    [ ! -s out.txt ] || die "halpoke $args printed on stdout"
    [ "$(halpoke --list | tail -n +3)" = "$before" ] || die "halpoke $args changed the region"
    echo "ok: $args"
done <<'CASES'
1|pin 'nosuch': no such pin|nosuch 1
1|pin '99': no such pin|99 1
1|'abc' is not a valid float|0 abc
1|'nan' is not a valid float|0 nan
1|'inf' is not a valid float|0 inf
1|'1e999' out of range for float|0 1e999
1|'' is not a valid float|0 ''
1|' 1' is not a valid float|0 ' 1'
1|'2' is not a valid bit|b 2
1|'yes' is not a valid bit|b yes
1|'2147483648' out of range for s32|s 2147483648
1|'-2147483649' out of range for s32|s -2147483649
1|'-1' out of range for u32|u -1
1|'4294967296' out of range for u32|u 4294967296
1|'1.5' is not a valid u32|u 1.5
1|pin 'hin' is an input|hin 1
1|'x' is not a valid float|0 9 1 x
1|pin 'nosuch': no such pin|0 9 nosuch 1
1|region 'nosuch': no such region|-r nosuch 0
1|pin 'nosuch': no such pin|nosuch
2|has no value|0 9 1
2|Usage|
2|Usage|--list 0
2|--count 'x'|--watch --count x
CASES
echo "region unchanged"
