# pinlog under the daemon: every change is logged in order as valid JSON
# lines, files rotate by size, SIGKILL loses no earlier line, a torn last
# line is repaired on restart, an idle pinlog uses no CPU, and it re-attaches
# by itself when the bridge is reloaded.
. "$HMK_SRC/tests/hal/svc_lib.sh"
check="$PY $HMK_SRC/tests/hal/svc_pinlog/pinlog_check.py"
pins=a:float:in,b:bit:in,c:s32:in
log=$PWD/pins.jsonl

# bad input: one line, exit 2 for arguments; exit 1 for an unknown pin
one_line_error 2 "$svcbin/pinlog" --max-bytes 12x a
one_line_error 2 "$svcbin/pinlog" --bogus
"$svcbin/pinlog" --help | grep -q '^Usage: pinlog' || die "--help"

bridge_load "$pins"
one_line_error 1 "$svcbin/pinlog" --out "$PWD/x.jsonl" a nosuch | grep -q "'nosuch'" || die "unknown pin"
# no pins named: every pin HAL feeds (by hand, no daemon)
"$svcbin/pinlog" --out "$PWD/all.jsonl" 2>all.err &
allpid=$!
wait_until 5 sh -c "[ \$($check $PWD/all.jsonl count) = 3 ]" || die "not all pins logged: $(cat all.jsonl)"
kill "$allpid"; wait "$allpid" || die "pinlog exited $? on SIGTERM: $(cat all.err)"
[ "$($check "$PWD/all.jsonl" values c)" = 0 ] || die "c missing from all pins"
echo "no pins named: all 3 in pins logged"

{ daemon_ini; cat <<INI
[service pinlog]
exec = $svcbin/pinlog --out $log --max-bytes 3000 --keep 500 --sync-ms 100 a b c
ready = fd
restart = always
backoff-initial = 100ms
writes = none
INI
} > hmk.ini
daemon_start hmk.ini
pid=$(wait_running pinlog)

# logged PIN VALUE: PIN's newest logged value is VALUE
logged() { [ "$($check "$log" values "$1" | tail -n 1)" = "$2" ]; }
wait_until 5 logged c 0 || die "no attach lines: $(cat "$log")"

# 1. each change, in order; waiting for each so none coalesce
for i in $(seq 1 40); do
    hal_cmd setp microkernel.a "$i.5"
    wait_until 5 logged a "$i.5" || die "a=$i.5 not logged"
done
hal_cmd setp microkernel.b 1 && wait_until 5 logged b True || die "b not logged"
hal_cmd setp microkernel.c -7 && wait_until 5 logged c -7 || die "c not logged"
want=$(printf '0\n'; for i in $(seq 1 40); do echo "$i.5"; done)
[ "$($check "$log" values a)" = "$want" ] || die "a's values: $($check "$log" values a | tr '\n' ' ')"
echo "42 changes logged in order"
ls "$log".1 >/dev/null 2>&1 || die "no rotation at 3000 bytes: $(ls -l "$log"*)"
$check "$log" maxsize 3000 || die "file over --max-bytes"
echo "rotated: $(ls "$log".* | wc -l) rotated files, none over 3000 bytes"

# 2. SIGKILL when quiet: every line before it survives, byte for byte
cat $(ls -r "$log".* | sort -t. -k3 -rn) "$log" > before.jsonl
kill -9 "$pid"
pid=$(wait_running pinlog "$pid")
hal_cmd setp microkernel.a 41.5 && wait_until 5 logged a 41.5 || die "restarted pinlog logs nothing"
$check "$log" contains before.jsonl || die "lines lost by SIGKILL"
echo "SIGKILL when quiet: all $(wc -l <before.jsonl) earlier lines intact"

# 3. SIGKILL in the middle of a stream of changes (a writer that keeps going
# until told to stop, so the kill surely lands mid-stream)
newest_a() { $check "$log" values a | tail -n 1 | cut -d. -f1; }
a_at_least() { [ "$(newest_a)" -ge "$1" ]; }
( i=1000; while [ ! -e stop-driver ]; do
      halcmd setp microkernel.a $i 2>/dev/null </dev/null; i=$(( i + 1 )); done ) &
driver=$!
wait_until 20 a_at_least 1050 || die "stream not logged"
cp "$log" current.jsonl
kill -9 "$pid"
killed_at=$(newest_a)
pid=$(wait_running pinlog "$pid")
wait_until 20 a_at_least $(( killed_at + 50 )) || die "stream not logged after restart"
touch stop-driver
wait "$driver"
last=$(halcmd -s getp microkernel.a </dev/null)
wait_until 10 logged a "$last" || die "last value of the stream ($last) not logged"
$check "$log" contains current.jsonl || die "lines before the kill lost"
$check "$log" values a | $PY -c '
import sys
v = [float(x) for x in sys.stdin]
bad = [(a, b) for a, b in zip(v, v[1:]) if b < a]
sys.exit("out of order: %s" % bad[:3] if bad else 0)' || die "log out of order"
echo "SIGKILL mid-stream (at a=$killed_at of 1000..$last): earlier lines intact, all files valid, order kept"

# 4. a torn last line (as after a power cut) is cut off on restart
"$ctl" -s "$sock" stop pinlog >/dev/null || die "ctl stop"
wait_output 10 stopped svc_field pinlog state || die "pinlog did not stop"
n=$($check "$log" count)
printf '{"time":"2026-11-2' >> "$log"
"$ctl" -s "$sock" start pinlog >/dev/null || die "ctl start"
pid=$(wait_running pinlog)
wait_until 5 grep -q "removed a torn last line (18 bytes)" daemon.log || die "torn line not reported"
wait_until 5 sh -c "[ \$($check $log count) -ge $(( n + 3 )) ]" || die "no attach lines after restart"
$check "$log" count >/dev/null || die "log invalid after repair"
echo "torn last line removed on restart"

# 5. idle: no changes, no CPU, no lines
n=$($check "$log" count)
read -r ticks woke <<<"$(idle_cpu "$pid" 10)"
echo "idle pinlog: $ticks CPU ticks, $woke wake-ups in 10 s"
[ "$ticks" -le 5 ] || die "idle pinlog used $ticks ticks in 10 s"
[ "$woke" -le 5 ] || die "idle pinlog woke $woke times in 10 s: a timer is running"
[ "$($check "$log" count)" = "$n" ] || die "idle pinlog wrote lines"

# 6. LinuxCNC restart: the same process re-attaches and keeps logging
bridge_reload "$pins"
hal_cmd setp microkernel.a 777.25
wait_until 10 logged a 777.25 || die "nothing logged after reload: $(tail -n 5 daemon.log)"
[ "$(svc_pid pinlog)" = "$pid" ] || die "pinlog was restarted, not re-attached"
echo "re-attached after bridge reload (same pid)"
svc_clean
