# Isolation: no reader or service can crash, stall or fool the realtime
# side. A user who may only read the region (another uid, in the region's
# group) attacks every object in /dev/shm and rtapi_app's capabilities; a
# writing service (another uid) granted one pin resizes and re-seals its
# channel, writes every other pin and a NaN raw, fills its command ring
# with garbage, flips its latch without the lock, and leaves a grandchild
# holding its lock and writing for ever (services as uid 1, group root: the
# region's group, so they may read it). After each: rtapi_app alive, the
# servo thread advancing, the other service's pin and the ungranted pins
# untouched; with the daemon killed, connected goes FALSE whatever the
# grandchild does. Attackers run as uid 1 (daemon), never as root.
. "$HMK_SRC/tests/hal/svc_lib.sh"
attack=$HMK_BIN/hmk-attack
[ -x "$attack" ] || die "no $attack"
bridge_load a:float:out,b:float:out,c:float:out,d:float:out,e:float:in
# the rtapi_app that made the region (the header says which; a transient
# "rtapi_app exit" of an earlier halrun -U is not it)
rtpid=$(od -An -t d4 -j 200 -N 4 /dev/shm/hal-microkernel | tr -d ' ')
kill -0 "$rtpid" 2>/dev/null && [ "$(cat /proc/"$rtpid"/comm)" = rtapi_app ] || die "no rtapi_app ($rtpid)"
rgid=$(stat -c %g /dev/shm/hal-microkernel)

# alive_and_advancing WHEN: rtapi_app is the same process and its thread runs
alive_and_advancing() {
    kill -0 "$rtpid" 2>/dev/null || die "$1: rtapi_app ($rtpid) died"
    wait_cycles 50 || die "$1: the servo thread stopped"
}
[ "$(getp microkernel.connected)" = FALSE ] || die "connected without a daemon"

# 1. the reader
setpriv --reuid=1 --regid=1 --groups="$rgid" "$attack" reader hal-microkernel > reader.out 2>&1
rc=$?
sed 's/^/reader /' reader.out
[ $rc = 0 ] || die "reader attack found a hole (exit $rc)"
[ -e /dev/shm/hal-microkernel ] && [ -e /dev/shm/hal-microkernel.stream ] || die "an object vanished"
alive_and_advancing "after the reader"
[ "$(getp microkernel.a)" = 0 ] || die "reader changed a: $(getp microkernel.a)"
[ "$(getp microkernel.connected)" = FALSE ] || die "connected without a daemon after the reader"
echo "reader: every attempt blocked, HAL running"

# 2. a victim service and an attacking one, both uid 1
{ daemon_ini; cat <<INI
[service victim]
exec = /bin/sh -c "exec $attack victim hal-microkernel b 42 >>$HMK_WORK/victim.out 2>&1"
user = daemon
group = root
restart = always
writes = b

[service attacker]
exec = /bin/sh -c "exec $attack writer hal-microkernel c 7 >>$HMK_WORK/writer.out 2>&1"
user = daemon
group = root
restart = no
writes = c
INI
} > hmk.ini
chmod 755 "$HMK_WORK"
: > writer.out; : > victim.out; chmod 666 writer.out victim.out
daemon_start hmk.ini
wait_output 10 TRUE getp microkernel.connected || die "not connected"
wait_output 10 42 getp microkernel.b || die "victim's write did not reach HAL"
wait_until 30 grep -q "latch flipped" writer.out || die "attacker did not finish: $(cat writer.out; tail -n 20 daemon.log)"
wait_until 10 grep -q "Service attacker exited" daemon.log || die "attacker still running: $(tail -n 5 daemon.log)"
sed 's/^/writer /' writer.out
! grep -q 'HOLE:' writer.out || die "writer attack found a hole"
alive_and_advancing "after the writer"
for p in a d; do
    [ "$(getp microkernel.$p)" = 0 ] || die "ungranted pin $p written: $(getp microkernel.$p)"
done
[ "$(getp microkernel.b)" = 42 ] || die "victim's pin b changed: $(getp microkernel.b)"
[ "$(getp microkernel.c)" = 7 ] || die "granted pin c is not the legitimate 7: $(getp microkernel.c)"
[ "$(halpoke b)" = 42 ] || die "region shows b = $(halpoke b), not 42"
echo "writer: ungranted pins and the victim's pin untouched, NaN refused, HAL running"

# 3. the daemon dies; the grandchild keeps writing and holds its lock
pgrep -u 1 -f "hmk-attack writer" >/dev/null || die "the attacker's grandchild is gone"
kill -9 "$dpid"; wait "$dpid" 2>/dev/null
wait_output 10 FALSE getp microkernel.connected || die "connected stayed TRUE without a daemon"
wait_output 5 TRUE getp microkernel.fault || die "fault not latched"
alive_and_advancing "after the daemon died"
[ "$(getp microkernel.b)" = 42 ] && [ "$(getp microkernel.a)" = 0 ] || die "values moved in the fault"
pkill -9 -u 1 -f "hmk-attack" 2>/dev/null
echo "daemon killed: connected FALSE, fault latched, HAL running, values held"
