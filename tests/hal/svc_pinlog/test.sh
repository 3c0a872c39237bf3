# pinlog under the daemon: every change is logged in order as valid JSON
# lines, files rotate by size, SIGKILL loses no earlier line, a torn last
# line is repaired on restart, an idle pinlog uses no CPU, and it re-attaches
# by itself when the bridge is reloaded.
. "$HMK_SRC/tests/hal/svc_lib.sh"
check="$PY $HMK_SRC/tests/hal/svc_pinlog/pinlog_check.py"
pins=a:float:in,b:bit:in,c:s32:in
log=$PWD/pins.jsonl

# bad input: one line, exit 2 for arguments; exit 1 for an unknown pin.
# Each wait is for the state wanted; met or timed out, what HAL and the log
# show is printed and checkresult judges it.
said 'max-bytes 12x' "$svcbin/pinlog" --max-bytes 12x a
said 'bogus option' "$svcbin/pinlog" --bogus
echo "help usage line: $("$svcbin/pinlog" --help | grep -m1 '^Usage: ')"

bridge_load "$pins"
said 'unknown pin' "$svcbin/pinlog" --out "$PWD/x.jsonl" a nosuch
# no pins named: every pin HAL feeds (by hand, no daemon)
"$svcbin/pinlog" --out "$PWD/all.jsonl" 2>all.err &
allpid=$!
wait_until 5 sh -c "[ \$($check $PWD/all.jsonl count) = 3 ]"
echo "all pins lines: $($check "$PWD/all.jsonl" count)"
kill "$allpid"; wait "$allpid"
echo "all pins pinlog after SIGTERM: exit $?"
echo "all pins c values: $($check "$PWD/all.jsonl" values c | xargs)"

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
newest() { $check "$log" values "$1" | tail -n 1; }
logged() { [ "$(newest "$1")" = "$2" ]; }
wait_until 5 logged c 0
echo "attached c: $(newest c)"

# 1. each change, in order; waiting for each so none coalesce (the first
# one not logged in time ends the loop: the values printed show it)
for i in $(seq 1 40); do
    hal_cmd setp microkernel.a "$i.5"
    wait_until 5 logged a "$i.5" || break
done
hal_cmd setp microkernel.b 1 && wait_until 5 logged b True
hal_cmd setp microkernel.c -7 && wait_until 5 logged c -7
echo "a values: $($check "$log" values a | xargs)"
echo "b newest: $(newest b)"
echo "c newest: $(newest c)"
echo "rotated files: $(ls "$log".* 2>/dev/null | wc -l)"
said 'maxsize 3000' $check "$log" maxsize 3000

# 2. SIGKILL when quiet: every line before it survives, byte for byte
cat $(ls -r "$log".* | sort -t. -k3 -rn) "$log" > before.jsonl
kill -9 "$pid"
pid=$(wait_running pinlog "$pid")
hal_cmd setp microkernel.a 41.5 && wait_until 5 logged a 41.5
echo "quiet SIGKILL, then a: $(newest a)"
echo "quiet SIGKILL, lines before: $(wc -l <before.jsonl)"
said 'quiet SIGKILL, earlier lines kept' $check "$log" contains before.jsonl

# 3. SIGKILL in the middle of a stream of changes (a writer that keeps going
# until told to stop, so the kill surely lands mid-stream)
newest_a() { newest a | cut -d. -f1; }
a_at_least() { [ "$(newest_a)" -ge "$1" ]; }
( i=1000; while [ ! -e stop-driver ]; do
      halcmd setp microkernel.a $i 2>/dev/null </dev/null; i=$(( i + 1 )); done ) &
driver=$!
wait_until 20 a_at_least 1050 || die "stream not logged"
cp "$log" current.jsonl
kill -9 "$pid"
killed_at=$(newest_a)
pid=$(wait_running pinlog "$pid")
wait_until 20 a_at_least $(( killed_at + 50 ))
echo "stream SIGKILL at a: $killed_at"
echo "stream newest a after restart: $(newest_a)"
touch stop-driver
wait "$driver"
last=$(halcmd -s getp microkernel.a </dev/null)
wait_until 10 logged a "$last"
echo "stream last HAL a: $last"
echo "stream last logged a: $(newest a)"
said 'stream SIGKILL, earlier lines kept' $check "$log" contains current.jsonl
said 'stream order' sh -c "$check '$log' values a | $PY -c '
import sys
v = [float(x) for x in sys.stdin]
bad = [(a, b) for a, b in zip(v, v[1:]) if b < a]
sys.exit(\"out of order: %s\" % bad[:3] if bad else 0)'"

# 4. a torn last line (as after a power cut) is cut off on restart
"$ctl" -s "$sock" stop pinlog >/dev/null || die "ctl stop"
wait_output 10 stopped svc_field pinlog state || die "pinlog did not stop"
n=$($check "$log" count)
printf '{"time":"2026-11-2' >> "$log"
"$ctl" -s "$sock" start pinlog >/dev/null || die "ctl start"
pid=$(wait_running pinlog)
wait_until 5 grep -q "removed a torn last line (18 bytes)" daemon.log
wait_until 5 sh -c "[ \$($check $log count) -ge $(( n + 3 )) ]"
echo "torn line report: $(grep -o 'removed a torn last line ([0-9]* bytes)' daemon.log | head -n 1)"
echo "lines before torn restart: $n"
echo "lines after torn restart: $($check "$log" count)"

# 5. idle: no changes, no CPU, no lines
n=$($check "$log" count)
read -r ticks woke <<<"$(idle_cpu "$pid" 10)"
echo "idle ticks in 10 s: $ticks"
echo "idle wake-ups in 10 s: $woke"
echo "lines before idle: $n"
echo "lines after idle: $($check "$log" count)"

# 6. LinuxCNC restart: the same process re-attaches and keeps logging
bridge_reload "$pins"
hal_cmd setp microkernel.a 777.25
wait_until 10 logged a 777.25
echo "after reload a: $(newest a)"
p=$(svc_pid pinlog)
echo "after reload pinlog: $([ "$p" = "$pid" ] && echo same process || echo "other process ($p, was $pid)")"
sanitizer_reports
