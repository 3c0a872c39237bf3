# Every kind of bad loadrt parameter fails with one line naming it and
# leaves nothing behind; a good loadrt afterwards works.
. "$HMK_TESTLIB"
echo 'loadrt threads name1=servo-thread period1=1000000' > threads.hal
hal_load threads.hal
long=$(printf 'x%.0s' $(seq 1 40))
printf 'junk that is not a region\n' > /dev/shm/hmk-test-foreign; chmod 666 /dev/shm/hmk-test-foreign
trap 'rm -f /dev/shm/hmk-test-foreign' EXIT
# each case: the parameters, then the text the error line must contain
while IFS='|' read -r params expect; do
    [ -n "$params" ] || continue
    : >"$HMK_WORK/hal.log.case"
    # shellcheck disable=SC2086
    if halcmd loadrt hal_microkernel_bridge $params >"$HMK_WORK/hal.log.case" 2>&1 </dev/null; then
        die "loadrt $params succeeded"
    fi
    # rtapi_app's own stderr goes to the log of the halcmd that started it
    if ! cat "$HMK_WORK/hal.log" "$HMK_WORK/hal.log.case" | grep -F 'hal_microkernel_bridge: ' \
            | grep -qF -- "$expect"; then
        die "loadrt $params: no error line containing '$expect'"
    fi
    left=$(halcmd -s show pin microkernel 2>/dev/null; halcmd -s show funct microkernel 2>/dev/null)
    [ -z "$left" ] || die "loadrt $params left HAL objects: $left"
    halcmd -s show comp 2>/dev/null | grep -q hal_microkernel_bridge && die "loadrt $params left the component"
    # this bridge's objects only (hal-microkernel and hal-microkernel.*),
    # not another program's that merely begins so (a shared machine)
    ls /dev/shm | grep -qE '^hal-microkernel($|\.)' && die "loadrt $params left a region: $(ls /dev/shm | grep -E '^hal-microkernel($|\.)')"
    ls -a /dev/shm | grep -qE '^\.hal-microkernel($|\.)' && die "loadrt $params left a temp region"
    echo "rejected: $params"
done <<CASES
count=-5|count=-5
count=2000|count=2000
count=0|count=0 and no pins=
pins=foo:bit|'foo:bit': expected NAME:TYPE:DIR
pins=foo:bit:in:extra|'foo': an in pin has no fault policy
pins=foo:bit:out:maybe|policy 'maybe' is neither hold nor a bit value
pins=a:bit:out:0:x|expected NAME:TYPE:DIR[:POLICY]
safe=hold,nope|safe: item 1 'nope'
safe=hold,0x10|safe: item 1 '0x10' is not hold or a value
pins=foo:int:in|type 'int'
pins=foo:bit:sideways|direction 'sideways'
pins=1foo:bit:in|'1foo': name must start with a letter
pins=a:bit:in,a:float:out|'a': declared twice
pins=connected:bit:in|'connected': name is reserved
pins=a:bit:in,|trailing ','
pins=$long.$long:float:in|longer than HAL's 47 characters
prefix=9bad|prefix='9bad'
region=bad/name|region='bad/name'
region=hmk-test-foreign|is not a hal-microkernel region
mode=0777|mode='0777'
mode=0400|mode='0400'
timeout_ms=0|timeout_ms=0
stream_depth=8|stream_depth=8
group=no-such-group-hmk|group='no-such-group-hmk': no such group
group=daemon|group='daemon': cannot give the region to it
channels=1|channels=1: must be 2..32
channels=33|channels=33: must be 2..32
types=float,nope|types: item 1 'nope'
count=2 types=float,float,bit|types: more items than the 2 slots
CASES
[ "$(cat /dev/shm/hmk-test-foreign)" = 'junk that is not a region' ] || die "foreign object was touched"

# a pin name HAL already has: hal_pin_new fails half-way, all is undone
hal_cmd newsig dummy float
halcmd loadrt siggen names=microkernel >>"$HMK_WORK/hal.log" 2>&1 </dev/null || die "siggen"
if halcmd loadrt hal_microkernel_bridge pins=offset:float:in >>"$HMK_WORK/hal.log" 2>&1 </dev/null; then
    die "loadrt with a clashing pin name succeeded"
fi
grep -qF "hal_microkernel_bridge: cannot create HAL pin 'microkernel.offset'" "$HMK_WORK/hal.log" \
    || die "no error line for the clashing pin"
[ -z "$(halcmd -s show pin microkernel.connected 2>/dev/null)" ] || die "clash left pins"
ls /dev/shm | grep -q '^hal-microkernel' && die "clash left a region"
echo "rejected: clashing pin"
hal_cmd unload siggen

# and a good loadrt still works afterwards
halcmd loadrt hal_microkernel_bridge >>"$HMK_WORK/hal.log" 2>&1 </dev/null || die "good loadrt failed"
hal_cmd addf microkernel.update servo-thread
hal_cmd start
wait_cycles 2
[ "$(halpoke --list | grep -c 'pin\.')" = 16 ] || die "good load does not list 16 pins"
echo "good load ok"
