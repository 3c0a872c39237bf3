# mqtt-gateway end to end on a real HAL: a bit HAL toggles every servo
# cycle reaches the broker with its final value exact; /set moves a HAL out
# pin; an ungranted pin is refused with a reply and no change; a /pulse on
# an out pin looped back in HAL shows both edges on the broker (--stream);
# a bridge reload reads hal-down, then online, and writes work again.
. "$HMK_SRC/tests/hal/svc_lib.sh"
T=$HMK_WORK
. "$HMK_SRC/tests/mqtt/lib.sh"
BASE=hal/cnc1
SPID=
broker_start || die "no broker"
cleanup_mqtt() { daemon_stop; [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; broker_stop; }
trap cleanup_mqtt EXIT

pins=tog:bit:in,speed:float:out,cmd:bit:out,echo:bit:in,guard:float:out
cat > bridge.hal <<HAL
loadrt threads name1=servo-thread period1=1000000
loadrt charge_pump
loadrt hal_microkernel_bridge count=0 pins=$pins
addf charge-pump servo-thread
addf microkernel.update servo-thread
net tog charge-pump.out => microkernel.tog
net loop microkernel.cmd => microkernel.echo
start
HAL
hal_load bridge.hal
wait_cycles 2

mosquitto_sub -h 127.0.0.1 -p "$PORT" -t "$BASE/#" -v > sub.log 2>&1 &
SPID=$!
{ daemon_ini; cat <<INI
[service mqtt-gateway]
exec = $svcbin/mqtt-gateway --host 127.0.0.1 --port $PORT --machine cnc1 --stream --set speed,cmd
ready = fd
restart = always
backoff-initial = 100ms
writes = speed cmd
INI
} > hmk.ini
daemon_start hmk.ini
trap cleanup_mqtt EXIT
wait_running mqtt-gateway >/dev/null
sub_has() { grep -qxF -- "$1" sub.log; }
seen_ge() { [ "$(grep -cxF -- "$1" sub.log)" -ge "$2" ]; }
pub() { mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 "$@"; }
wait_until 10 sub_has "$BASE/status online" || die "no online status: $(cat sub.log)"

# 1. the toggling bit: HAL stops, the broker holds HAL's last value
wait_cycles 2000
hal_cmd stop
final=$(getp charge-pump.out)
want=$( [ "$final" = TRUE ] && echo TRUE || echo FALSE )
wait_until 10 sh -c "[ \"\$(grep '^$BASE/pin/tog ' sub.log | tail -n 1 | cut -d' ' -f2)\" = $want ]" \
    || die "broker's last tog is not HAL's $final: $(grep "^$BASE/pin/tog " sub.log | tail -n 3)"
[ "$(retained "$BASE/pin/tog")" = "$want" ] || die "retained tog is not $want"
echo "toggled bit: $(grep -c "^$BASE/pin/tog " sub.log) messages over 2000+ cycles, final $want exact"
hal_cmd start

# 2. /set moves a HAL out pin
pub -t "$BASE/pin/speed/set" -m 1200.5
wait_until 10 pin_is microkernel.speed 1200.5 || die "speed is $(getp microkernel.speed)"
wait_until 10 sub_has "$BASE/pin/speed 1200.5" || die "speed not published"
echo "set: speed 1200.5 in HAL and on the broker"

# 3. ungranted and malformed: a reply, no change
pub -t "$BASE/pin/guard/set" -m 5
pub -t "$BASE/pin/speed/set" -m fast
wait_until 10 seen_ge "$BASE/error pin/speed/set 'fast': float" 1 || die "no reply to 'fast': $(grep error sub.log)"
grep -q "^$BASE/error pin/guard/set '5': no such pin\|^$BASE/error pin/guard/set '5': pin guard is not settable" sub.log \
    || die "guard not refused: $(grep error sub.log)"
pin_is microkernel.guard 0 || die "guard written: $(getp microkernel.guard)"
pin_is microkernel.speed 1200.5 || die "speed changed by a bad payload"
echo "refused: ungranted guard and payload 'fast', HAL unchanged"

# 4. a one-cycle pulse, looped back into an in pin: both edges published
pub -t "$BASE/pin/cmd/pulse" -m 1
wait_until 10 sub_has "$BASE/pin/echo TRUE" || die "pulse not seen on echo: $(grep echo sub.log)"
wait_until 10 sh -c "[ \"\$(grep '^$BASE/pin/echo ' sub.log | tail -n 1)\" = '$BASE/pin/echo FALSE' ]" \
    || die "echo did not end FALSE"
pin_is microkernel.cmd FALSE || die "cmd stayed on after the pulse"
echo "pulse: echo TRUE then FALSE on the broker"

# 5. LinuxCNC restart: hal-down, online again, writes reach the new HAL
bridge_reload "$pins"
hal_cmd net tog charge-pump.out microkernel.tog
hal_cmd net loop microkernel.cmd microkernel.echo
wait_until 15 seen_ge "$BASE/status online" 2 || die "not online after reload: $(grep status sub.log)"
pub -t "$BASE/pin/speed/set" -m 42
wait_until 10 pin_is microkernel.speed 42 || die "speed after reload is $(getp microkernel.speed)"
grep -q "^$BASE/status hal-down" sub.log || die "the reload did not show as hal-down"
echo "re-attached after bridge reload; set works"
svc_clean
