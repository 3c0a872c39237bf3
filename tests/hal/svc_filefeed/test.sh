# filefeed under the daemon: numbers written into a FIFO reach the out pin,
# slowly (--delay-ms before each read) while HAL runs on; bad lines are
# named by line number and not written; a SIGKILL loses at most the line
# being read; a waiting filefeed uses no CPU, stops at once on SIGTERM, and
# re-attaches by itself after a bridge reload.
. "$HMK_SRC/tests/hal/svc_lib.sh"
pins=feed:float:out,count:u32:out
fifo=$PWD/feed.fifo
ff_bin=$svcbin/filefeed

# bad input
one_line_error 2 "$ff_bin" --to feed
one_line_error 2 "$ff_bin" --from x --to feed --delay-ms -1
"$ff_bin" --help | grep -q '^Usage: filefeed' || die "--help"
one_line_error 1 "$ff_bin" --from "$PWD/none" --to feed | grep -q 'No such file' || die "missing file"
bridge_load "$pins"
echo 1 > value.txt
one_line_error 1 "$ff_bin" --from value.txt --to nosuch | grep -q "'nosuch'" || die "unknown pin"

# a value file (by hand, no daemon): its first line is sampled every delay;
# a bad version is warned about once, however often it is sampled
printf '7\n99\n' > value.txt
"$ff_bin" --from value.txt --to count --delay-ms 20 2>value.err &
vpid=$!
wait_output 5 7 halpoke count || die "value file not sampled: $(halpoke count)"
echo x > value.txt
wait_until 5 grep -q "value.txt:1: not a u32 'x'" value.err || die "no warning: $(cat value.err)"
wait_cycles 200 # several samples of the bad version
echo 8 > value.txt
wait_output 5 8 halpoke count || die "new version not sampled"
kill "$vpid"; wait "$vpid" || die "filefeed exited $? on SIGTERM"
[ "$(wc -l <value.err)" = 1 ] || die "warnings: $(cat value.err)"
echo "value file sampled; a bad version warned about once"

{ daemon_ini; cat <<INI
[service filefeed]
exec = $ff_bin --from $fifo --mkfifo --to feed --delay-ms 200
ready = fd
restart = always
backoff-initial = 100ms
writes = feed
INI
} > hmk.ini
daemon_start hmk.ini
pid=$(wait_running filefeed)
wait_until 5 test -p "$fifo" || die "no FIFO made"

# feed TEXT: one writer opens the FIFO, writes, closes (filefeed sees EOF
# and reopens for the next one)
feed() { timeout 60 sh -c 'printf "$1" > "$2"' sh "$1" "$fifo" || die "cannot write the FIFO"; }
warned() { grep -q "^filefeed: $fifo:$1: $2, not written$" daemon.log; }

feed '1.5\n'
wait_output 5 1.5 halpoke feed || die "1.5 not fed: $(halpoke feed)"
feed 'abc\n'
wait_until 5 warned 2 "not a float 'abc'" || die "no warning for abc: $(tail -n 3 daemon.log)"
feed '2.5\n'
wait_output 5 2.5 halpoke feed || die "2.5 not fed after a bad line"
feed '3\n4x\n1e999\n5'
wait_output 5 5 halpoke feed || die "last line without newline not fed"
warned 5 "not a float '4x'" && warned 6 "out of range for float '1e999'" \
    || die "warnings name the wrong lines: $(tail -n 3 daemon.log)"
echo "values fed; bad lines named by number and skipped"

# the slow path: 5 lines take >= 5 x 200 ms in filefeed, HAL runs on
c0=$(update_count)
start=$(( $(date +%s%N) / 1000000 ))
feed '10\n11\n12\n13\n14\n'
wait_output 10 14 halpoke feed || die "14 not fed"
ms=$(( $(date +%s%N) / 1000000 - start ))
cycles=$(( $(update_count) - c0 ))
echo "5 lines took $ms ms (delay 200 ms each); HAL ran $cycles cycles meanwhile"
# the first sleep may have begun before the write: 4 whole delays at least
[ "$ms" -ge 800 ] || die "the delay was not applied"
[ "$cycles" -ge $(( ms / 4 )) ] || die "HAL stalled while filefeed blocked"

# SIGKILL mid-feed: the FIFO keeps its data (we hold it open read-write);
# the restarted filefeed goes on; at most the line being read is lost
halpoke --watch -t 600 feed > watch.out &   # killed below
watcher=$!
exec 3<>"$fifo"
printf '20\n21\n22\n23\n24\n25\n26\n27\n28\n29\n' >&3
wait_until 10 grep -q ' feed 22$' watch.out || die "feed stalled before the kill"
kill -9 "$pid"
pid=$(wait_running filefeed "$pid")
wait_output 10 29 halpoke feed || die "the rest of the feed did not arrive: $(halpoke feed)"
exec 3>&-
kill "$watcher"; wait "$watcher" 2>/dev/null
seen=$(awk '$3 >= 20 { print $3 }' watch.out | sort -un | tr '\n' ' ')
missing=$(( 10 - $(awk '$3 >= 20 { print $3 }' watch.out | sort -un | wc -l) ))
echo "SIGKILL mid-feed: saw $seen- $missing line(s) lost"
[ "$missing" -le 1 ] || die "lost $missing lines, bound is 1"

# idle: waiting for a writer costs no CPU
read -r ticks woke <<<"$(idle_cpu "$pid" 10)"
echo "idle filefeed: $ticks CPU ticks, $woke wake-ups in 10 s"
[ "$ticks" -le 5 ] || die "waiting filefeed used $ticks ticks"
[ "$woke" -le 5 ] || die "idle filefeed woke $woke times in 10 s: a timer is running"

# bridge reload while it waits: the same process re-attaches and feeds the
# new region (it notices the reload with its next value)
bridge_reload "$pins"
feed '42\n'
wait_output 10 42 halpoke feed || die "nothing fed after reload: $(tail -n 3 daemon.log)"
[ "$(svc_pid filefeed)" = "$pid" ] || die "restarted instead of re-attached"
echo "re-attached after bridge reload (same pid)"

# SIGTERM while blocked on the FIFO ends it at once, cleanly
t=$(( $(date +%s%N) / 1000000 ))
"$ctl" -s "$sock" stop filefeed >/dev/null || die "ctl stop"
wait_output 10 stopped svc_field filefeed state || die "did not stop"
ms=$(( $(date +%s%N) / 1000000 - t ))
echo "stopped in $ms ms, $(svc_field filefeed last_exit)"
# at once: by SIGTERM, not the SIGKILL the daemon sends after its 10 s
# stop-timeout (what it took depends on the machine's load; how it ended not)
case $(svc_field filefeed last_exit) in *SIGKILL*) die "SIGTERM did not end the blocking read (killed after $ms ms)" ;; esac
! grep -q "Service filefeed did not stop within" daemon.log || die "SIGTERM did not end the blocking read"
[ "$ms" -lt 10000 ] || die "SIGTERM did not end the blocking read (took $ms ms)"
svc_clean
