# Every kind of bad loadrt parameter fails with one line naming it and
# leaves nothing behind; a good loadrt afterwards works.
. "$HMK_TESTLIB"
echo 'loadrt threads name1=servo-thread period1=1000000' > threads.hal
hal_load threads.hal
long=$(printf 'x%.0s' $(seq 1 40))
printf 'junk that is not a region\n' > /dev/shm/hmk-test-foreign; chmod 666 /dev/shm/hmk-test-foreign
trap 'rm -f /dev/shm/hmk-test-foreign' EXIT
# each case in ./cases: loadrt with its parameters; report the exit status,
# what it left behind and the bridge's error lines it caused
bridge_lines() { grep -F 'hal_microkernel_bridge: ' | paste -sd '|' | sed 's/|/ | /g'; }
leftovers() {
    local left=""
    [ -z "$(halcmd -s show pin microkernel 2>/dev/null; halcmd -s show funct microkernel 2>/dev/null)" ] || left+=" pins/functs"
    halcmd -s show comp 2>/dev/null | grep -q hal_microkernel_bridge && left+=" component"
    # this bridge's objects only (hal-microkernel and hal-microkernel.*),
    # not another program's that merely begins so (a shared machine)
    ls /dev/shm | grep -qE '^hal-microkernel($|\.)' && left+=" region"
    ls -a /dev/shm | grep -qE '^\.hal-microkernel($|\.)' && left+=" temp-region"
    echo "${left:- nothing}"
}
while IFS='|' read -r params _; do
    logged=$(stat -c %s "$HMK_WORK/hal.log")
    # shellcheck disable=SC2086
    halcmd loadrt hal_microkernel_bridge ${params//'$long'/$long} >"$HMK_WORK/hal.log.case" 2>&1 </dev/null
    rc=$?
    # rtapi_app's own stderr goes to the log of the halcmd that started it
    said=$(tail -c +$(( logged + 1 )) "$HMK_WORK/hal.log" | cat - "$HMK_WORK/hal.log.case" | bridge_lines)
    echo "loadrt $params: exit $rc; left$(leftovers); said: $said"
done < <(grep -v -e "^#" -e "^$" "$(dirname "$0")/cases")
echo "foreign object after the cases: $(cat /dev/shm/hmk-test-foreign)"

# a pin name HAL already has: hal_pin_new fails half-way, all is undone
hal_cmd newsig dummy float
halcmd loadrt siggen names=microkernel >>"$HMK_WORK/hal.log" 2>&1 </dev/null || die "siggen"
logged=$(stat -c %s "$HMK_WORK/hal.log")
halcmd loadrt hal_microkernel_bridge pins=offset:float:in >>"$HMK_WORK/hal.log" 2>&1 </dev/null
rc=$?
echo "loadrt clashing pin: exit $rc; said: $(tail -c +$(( logged + 1 )) "$HMK_WORK/hal.log" | bridge_lines)"
echo "clash left microkernel.connected: $([ -z "$(halcmd -s show pin microkernel.connected 2>/dev/null)" ] && echo no || echo yes)"
echo "clash left a region: $(ls /dev/shm | grep -q '^hal-microkernel' && echo yes || echo no)"
hal_cmd unload siggen

# and a good loadrt still works afterwards
saw "good loadrt" halcmd loadrt hal_microkernel_bridge
hal_cmd addf microkernel.update servo-thread
hal_cmd start
wait_cycles 2
echo "good load lists pins: $(halpoke --list | grep -c 'pin\.')"
