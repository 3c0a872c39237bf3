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
yes_no() { "$@" && echo yes || echo no; }
last_of() { grep "^$BASE/$1 " sub.log | tail -n 1 | cut -d' ' -f2-; }
# each wait is for the state wanted; met or timed out, what HAL and the
# broker show is printed and checkresult judges it
wait_until 10 sub_has "$BASE/status online"
echo "status online seen: $(yes_no sub_has "$BASE/status online")"

# 1. the toggling bit: HAL stops, the broker holds HAL's last value
wait_cycles 2000
hal_cmd stop
final=$(getp charge-pump.out)
want=$( [ "$final" = TRUE ] && echo TRUE || echo FALSE )
wait_until 10 sh -c "[ \"\$(grep '^$BASE/pin/tog ' sub.log | tail -n 1 | cut -d' ' -f2)\" = $want ]"
echo "HAL final tog: $final"
echo "broker last tog: $(last_of pin/tog)"
echo "retained tog: $(retained "$BASE/pin/tog")"
echo "tog messages over 2000+ cycles: $(grep -c "^$BASE/pin/tog " sub.log)"
hal_cmd start

# 2. /set moves a HAL out pin
pub -t "$BASE/pin/speed/set" -m 1200.5
wait_until 10 pin_is microkernel.speed 1200.5
wait_until 10 sub_has "$BASE/pin/speed 1200.5"
echo "HAL speed after set: $(getp microkernel.speed)"
echo "broker speed 1200.5 published: $(yes_no sub_has "$BASE/pin/speed 1200.5")"

# 3. ungranted and malformed: a reply, no change
pub -t "$BASE/pin/guard/set" -m 5
pub -t "$BASE/pin/speed/set" -m fast
wait_until 10 seen_ge "$BASE/error pin/speed/set 'fast': float" 1
echo "reply to speed 'fast': $(grep -m1 "^$BASE/error pin/speed/set 'fast'" sub.log)"
echo "reply to guard '5': $(grep -m1 "^$BASE/error pin/guard/set '5'" sub.log)"
echo "HAL guard after refusals: $(getp microkernel.guard)"
echo "HAL speed after refusals: $(getp microkernel.speed)"

# 4. a one-cycle pulse, looped back into an in pin: both edges published
pub -t "$BASE/pin/cmd/pulse" -m 1
wait_until 10 sub_has "$BASE/pin/echo TRUE"
wait_until 10 sh -c "[ \"\$(grep '^$BASE/pin/echo ' sub.log | tail -n 1)\" = '$BASE/pin/echo FALSE' ]"
echo "broker echo TRUE seen: $(yes_no sub_has "$BASE/pin/echo TRUE")"
echo "broker last echo: $(last_of pin/echo)"
echo "HAL cmd after pulse: $(getp microkernel.cmd)"

# 5. LinuxCNC restart: hal-down, online again, writes reach the new HAL
bridge_reload "$pins"
hal_cmd net tog charge-pump.out microkernel.tog
hal_cmd net loop microkernel.cmd microkernel.echo
wait_until 15 seen_ge "$BASE/status online" 2
echo "status online count after reload: $(grep -cxF "$BASE/status online" sub.log)"
pub -t "$BASE/pin/speed/set" -m 42
wait_until 10 pin_is microkernel.speed 42
echo "HAL speed after reload set: $(getp microkernel.speed)"
echo "status hal-down seen: $(yes_no grep -q "^$BASE/status hal-down" sub.log)"
sanitizer_reports
