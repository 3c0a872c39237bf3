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
"$svcbin/mtconnect-adapter" -n -c map.ini | grep -q "OK: 4 data items, pins checked" || die "-n"
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
wait_until 10 grep -q '^\* PONG 10000$' shdr.log || die "no PONG: $(cat shdr.log)"
wait_until 10 is avail AVAILABLE || die "not AVAILABLE: $(cat shdr.log)"
for kv in estop=ARMED mode=0 Sspeed=0 spindle=NORMAL; do
    is "${kv%%=*}" "${kv#*=}" || die "snapshot: ${kv%%=*} is '$($shdr get shdr.log "${kv%%=*}")'"
done
echo "snapshot: every item, AVAILABLE, PONG"
hal_cmd setp microkernel.speed 1234.5
hal_cmd setp microkernel.mode 2
hal_cmd setp microkernel.spindle-fault 1
wait_until 10 is spindle FAULT || die "condition: $(tail -3 shdr.log)"
is Sspeed 1234.5 && is mode AUTOMATIC || die "changes: $(tail -5 shdr.log)"
$shdr order shdr.log || die "time stamps go back: $(cat shdr.log)"
age=$($shdr age shdr.log spindle)
awk -v a="$age" 'BEGIN { exit !(a >= -0.5 && a < 5) }' || die "time stamp $age s off"
echo "changes arrive, time stamps in order and current"
read -r ticks wk < <(idle_cpu "$pid" 3)
[ "$ticks" -le 1 ] || die "idle adapter used $ticks ticks in 3 s"
echo "idle: $ticks ticks, $wk wake-ups in 3 s"
grep -q "rw-p.*hal-microkernel$" "/proc/$pid/maps" && die "region mapped writable"
grep -q "r--s.*hal-microkernel$" "/proc/$pid/maps" || die "region not mapped read-only: $(grep hal-microkernel /proc/$pid/maps)"
echo "region mapped read-only"
hal_cmd stop
hal_cmd unload hal_microkernel_bridge || die "unload failed"
wait_until 10 is avail UNAVAILABLE || die "not UNAVAILABLE after unload: $(tail -3 shdr.log)"
is Sspeed UNAVAILABLE && is spindle UNAVAILABLE || die "items not UNAVAILABLE: $(tail -3 shdr.log)"
echo "bridge unloaded: UNAVAILABLE"
halcmd loadrt hal_microkernel_bridge count=0 "pins=$pins" >>"$HMK_WORK/hal.log" 2>&1 </dev/null || die "reload"
hal_cmd addf microkernel.update servo-thread
hal_cmd start
hal_cmd setp microkernel.speed 77
wait_until 10 is avail AVAILABLE || die "not AVAILABLE after reload: $(tail -3 shdr.log)"
wait_until 10 is Sspeed 77 || die "no value after reload: $(tail -3 shdr.log)"
[ "$(svc_pid mtconnect-adapter)" = "$pid" ] || die "the adapter restarted instead of re-attaching"
echo "bridge reloaded: AVAILABLE and values again, same process"
svc_clean
