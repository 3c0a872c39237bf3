# mtconnect-adapter under the daemon on a real HAL: an SHDR client (shdr.py,
# not the adapter's code) gets the snapshot with every mapped item, a PONG,
# HAL changes with their cycle's UTC time in order, UNAVAILABLE while the
# bridge is unloaded and values again after it is reloaded; the adapter
# maps the region read-only and is idle when nothing changes.
. "$HMK_SRC/tests/hal/svc_lib.sh"
shdr="$PY $HMK_SRC/tests/hal/svc_mtconnect/shdr.py"
pins=estop:bit:in,mode:s32:in,speed:float:in,spindle-fault:bit:in
cat > map.ini <<INI
[adapter]
listen = 127.0.0.1:0
uuid = hal-test
[event estop]
pin = estop
type = EMERGENCY_STOP
map = 0=ARMED 1=TRIGGERED
[event mode]
pin = mode
type = CONTROLLER_MODE
map = 1=MANUAL 2=AUTOMATIC
[sample Sspeed]
pin = speed
type = ROTARY_VELOCITY
units = REVOLUTION/MINUTE
[condition spindle]
pin = spindle-fault
type = SYSTEM
text = spindle drive fault
INI
bridge_load "$pins"
echo "adapter -n said: $("$svcbin/mtconnect-adapter" -n -c map.ini 2>&1)"
{ daemon_ini; cat <<INI
[service mtconnect-adapter]
exec = $svcbin/mtconnect-adapter -c $PWD/map.ini
ready = fd
restart = always
backoff-initial = 100ms
writes = none
INI
} > hmk.ini
daemon_start hmk.ini
pid=$(wait_running mtconnect-adapter)
wait_until 10 grep -q 'listening on 127.0.0.1:' daemon.log || die "no listening line: $(tail -5 daemon.log)"
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' daemon.log | tail -n 1)
$shdr watch "$port" shdr.log &
wpid=$!
trap 'kill $wpid 2>/dev/null; daemon_stop' EXIT
is() { [ "$($shdr get shdr.log "$1")" = "$2" ]; }
yes_no() { "$@" && echo yes || echo no; }
# each wait is for the state wanted; met or timed out, what the client saw
# is printed and checkresult judges it
wait_until 10 grep -q '^\* PONG 10000$' shdr.log
echo "PONG 10000 seen: $(yes_no grep -q '^\* PONG 10000$' shdr.log)"
wait_until 10 is avail AVAILABLE
for k in avail estop mode Sspeed spindle; do echo "snapshot $k: $($shdr get shdr.log $k)"; done
hal_cmd setp microkernel.speed 1234.5
hal_cmd setp microkernel.mode 2
hal_cmd setp microkernel.spindle-fault 1
wait_until 10 is spindle FAULT
for k in spindle Sspeed mode; do echo "after changes $k: $($shdr get shdr.log $k)"; done
echo "time stamps in order: $(yes_no $shdr order shdr.log)"
echo "spindle time stamp age s: $($shdr age shdr.log spindle)"
read -r ticks wk < <(idle_cpu "$pid" 3)
echo "idle ticks in 3 s: $ticks"
echo "idle wake-ups in 3 s: $wk"
echo "region mappings: $(awk '/hal-microkernel$/ { print $2 }' "/proc/$pid/maps" | sort -u | xargs)"
hal_cmd stop
hal_cmd unload hal_microkernel_bridge || die "unload failed"
wait_until 10 is avail UNAVAILABLE
for k in avail Sspeed spindle; do echo "after unload $k: $($shdr get shdr.log $k)"; done
halcmd loadrt hal_microkernel_bridge count=0 "pins=$pins" >>"$HMK_WORK/hal.log" 2>&1 </dev/null || die "reload"
hal_cmd addf microkernel.update servo-thread
hal_cmd start
hal_cmd setp microkernel.speed 77
wait_until 10 is avail AVAILABLE
wait_until 10 is Sspeed 77
for k in avail Sspeed; do echo "after reload $k: $($shdr get shdr.log $k)"; done
p=$(svc_pid mtconnect-adapter)
echo "adapter after reload: $([ "$p" = "$pid" ] && echo same process || echo "other process ($p, was $pid)")"
sanitizer_reports
