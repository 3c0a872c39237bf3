# Fault: LinuxCNC restarts (the bridge is unloaded and loaded again, a new
# generation) while a writer writes and the daemon and a service run.
# Every write either succeeded into a live region or failed with a clear
# line; the last successful write is the value in the new region; the
# daemon and the service re-attach by themselves.
. "$HMK_SRC/tests/hal/svc_lib.sh"
bridge_load t:float:out,a:float:in
{ daemon_ini; cat <<INI
[service hours]
exec = $svcbin/spindle-hours --run on --total hours --state $HMK_WORK/hours.state --save-s 1
ready = fd
writes = hours
INI
} > hmk.ini
# the bridge of this test has the pins spindle-hours needs, too
bridge_reload t:float:out,a:float:in,on:bit:in,hours:float:out
daemon_start hmk.ini
wait_running hours >/dev/null
wait_output 10 TRUE getp microkernel.connected || die "not connected"
gen1=$(halpoke --list | awk 'NR == 1 { print $6 }' | tr -d ,)

# the writer: one halpoke per value, each exit status recorded
( for i in $(seq 1 400); do
      if halpoke t "$i" 2>>writer.err; then echo "$i ok"; else echo "$i fail"; fi
  done > writer.log ) &
writer=$!
wait_until 10 grep -q ' ok$' writer.log || die "writer never succeeded"
bridge_reload t:float:out,a:float:in,on:bit:in,hours:float:out
wait "$writer"
gen2=$(halpoke --list | awk 'NR == 1 { print $6 }' | tr -d ,)
[ "$gen1" != "$gen2" ] || die "no new generation"
fails=$(grep -c ' fail$' writer.log || true)
oks=$(grep -c ' ok$' writer.log || true)
# every failure said why, in one line each, naming the region
if [ "$fails" -gt 0 ]; then
    [ "$(wc -l < writer.err)" = "$fails" ] || die "failures without exactly one line each: $(head -3 writer.err)"
    if grep -v -e "no such region" -e "region detached" -e "not ready" writer.err | grep -q .; then
        die "unexpected error: $(grep -v -e 'no such region' -e 'region detached' writer.err | head -1)"
    fi
fi
last=$(awk '$2 == "ok" { v = $1 } END { print v }' writer.log)
[ "$last" = 400 ] || die "the last write failed although the new region was up ($last)"
wait_output 5 400 getp microkernel.t || die "the last successful write is not in HAL: $(getp microkernel.t)"
echo "writes: $oks ok, $fails failed with a clear line, last ok = value in the new region"
# the daemon and its service found the new region
wait_output 10 TRUE getp microkernel.connected || die "daemon did not re-attach"
hal_cmd setp microkernel.on 1
wait_until 10 sh -c '[ "$(halcmd -s getp microkernel.hours)" != 0 ]' || die "service did not re-attach"
svc_clean
echo "daemon and service re-attached to generation $gen2"
