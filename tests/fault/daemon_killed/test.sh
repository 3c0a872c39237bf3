# Fault: the daemon is SIGKILLed while a service runs. HAL keeps running;
# connected drops within the timeout and the fault latch holds the outputs;
# the orphaned service stops by itself (it gets SIGTERM when its daemon
# dies, so it never runs unsupervised beside the next daemon's copy); a new
# daemon (as systemd would start it) re-attaches to the same region,
# starts the service again, and no value in the region was lost.
. "$HMK_SRC/tests/hal/svc_lib.sh"
bridge_load t:float:out:hold,speed:float:in
{ daemon_ini; cat <<INI
[service feed]
exec = $svcbin/filefeed --from $HMK_WORK/feed --mkfifo --to t --delay-ms 0
ready = fd
restart = always
backoff-initial = 100ms
writes = t
INI
} > hmk.ini
sed -i 's/^heartbeat-period = .*/heartbeat-period = 50ms/' hmk.ini
daemon_start hmk.ini
p1=$(wait_running feed)
wait_output 10 TRUE getp microkernel.connected || die "not connected"
timeout 60 sh -c "echo 12.25 > $HMK_WORK/feed" || die "feed write"
wait_output 10 12.25 getp microkernel.t || die "service write did not reach HAL"
gen1=$(halpoke --list | awk 'NR == 1 { print $6 }' | tr -d ,)
c0=$(update_count)
echo "before: service $p1 running, t=12.25"

kill -9 "$dpid"; wait "$dpid" 2>/dev/null
# the service goes away by itself (SIGTERM from its parent's death)
wait_until 10 sh -c "! kill -0 $p1 2>/dev/null" || die "service $p1 outlived its daemon"
wait_output 5 TRUE getp microkernel.fault || die "fault not latched"
[ "$(getp microkernel.connected)" = FALSE ] || die "still connected"
[ "$(getp microkernel.t)" = 12.25 ] || die "hold policy: t=$(getp microkernel.t)"
wait_cycles 20
echo "daemon killed: service gone, HAL ran $(( $(update_count) - c0 )) cycles, fault latched, t held"

# systemd restarts the daemon
daemon_start hmk.ini
p2=$(wait_running feed "$p1")
wait_output 10 TRUE getp microkernel.connected || die "new daemon not connected"
gen2=$(halpoke --list | awk 'NR == 1 { print $6 }' | tr -d ,)
[ "$gen1" = "$gen2" ] || die "region changed ($gen1 -> $gen2): the daemon must re-attach to the same one"
[ "$(halpoke t)" = 12.25 ] || die "region lost the value: $(halpoke t)"
hal_cmd setp microkernel.fault-reset 1
wait_output 5 FALSE getp microkernel.fault || die "reset failed"
timeout 60 sh -c "echo 13.5 > $HMK_WORK/feed" || die "feed write 2"
wait_output 10 13.5 getp microkernel.t || die "restarted service's write did not reach HAL"
svc_clean
echo "daemon back: same region, service restarted ($p1 -> $p2), writes flow again"
