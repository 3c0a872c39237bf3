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
said 'no --from' "$ff_bin" --to feed
said 'delay -1' "$ff_bin" --from x --to feed --delay-ms -1
echo "help usage line: $("$ff_bin" --help | grep -m1 '^Usage: ')"
said 'missing file' "$ff_bin" --from "$PWD/none" --to feed
bridge_load "$pins"
echo 1 > value.txt
said 'unknown pin' "$ff_bin" --from value.txt --to nosuch

# a value file (by hand, no daemon): its first line is sampled every delay;
# a bad version is warned about once, however often it is sampled. Each
# wait is for the state wanted; met or timed out, what HAL shows is printed
# and checkresult judges it.
printf '7\n99\n' > value.txt
"$ff_bin" --from value.txt --to count --delay-ms 20 2>value.err &
vpid=$!
wait_output 5 7 halpoke count
echo "value file count: $(halpoke count)"
echo x > value.txt
wait_until 5 grep -q "value.txt:1: not a u32 'x'" value.err
wait_cycles 200 # several samples of the bad version
echo 8 > value.txt
wait_output 5 8 halpoke count
echo "value file count after fix: $(halpoke count)"
kill "$vpid"; wait "$vpid"
echo "value filefeed after SIGTERM: exit $?"
echo "value file warnings: $(wc -l <value.err)"
echo "value file warning: $(head -n 1 value.err)"

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
wait_output 5 1.5 halpoke feed
echo "fed 1.5: $(halpoke feed)"
feed 'abc\n'
wait_until 5 warned 2 "not a float 'abc'"
feed '2.5\n'
wait_output 5 2.5 halpoke feed
echo "fed 2.5 after a bad line: $(halpoke feed)"
feed '3\n4x\n1e999\n5'
wait_output 5 5 halpoke feed
echo "fed last line without newline: $(halpoke feed)"
sed -n "s|^filefeed: $fifo:\([0-9]*\): |warning for line \1: |p" daemon.log

# the slow path: 5 lines take >= 5 x 200 ms in filefeed, HAL runs on
c0=$(update_count)
start=$(( $(date +%s%N) / 1000000 ))
feed '10\n11\n12\n13\n14\n'
wait_output 10 14 halpoke feed
ms=$(( $(date +%s%N) / 1000000 - start ))
cycles=$(( $(update_count) - c0 ))
echo "slow feed of 5 lines: $(halpoke feed)"
echo "slow feed ms: $ms"
echo "slow feed HAL cycles: $cycles"

# SIGKILL mid-feed: the FIFO keeps its data (we hold it open read-write);
# the restarted filefeed goes on; at most the line being read is lost
halpoke --watch -t 600 feed > watch.out &   # killed below
watcher=$!
exec 3<>"$fifo"
printf '20\n21\n22\n23\n24\n25\n26\n27\n28\n29\n' >&3
wait_until 10 grep -q ' feed 22$' watch.out || die "feed stalled before the kill"
kill -9 "$pid"
pid=$(wait_running filefeed "$pid")
wait_output 10 29 halpoke feed
echo "after SIGKILL feed: $(halpoke feed)"
exec 3>&-
kill "$watcher"; wait "$watcher" 2>/dev/null
echo "after SIGKILL values seen: $(awk '$3 >= 20 { print $3 }' watch.out | sort -un | xargs)"

# idle: waiting for a writer costs no CPU
read -r ticks woke <<<"$(idle_cpu "$pid" 10)"
echo "idle ticks in 10 s: $ticks"
echo "idle wake-ups in 10 s: $woke"

# bridge reload while it waits: the same process re-attaches and feeds the
# new region (it notices the reload with its next value)
bridge_reload "$pins"
feed '42\n'
wait_output 10 42 halpoke feed
echo "after reload feed: $(halpoke feed)"
p=$(svc_pid filefeed)
echo "after reload filefeed: $([ "$p" = "$pid" ] && echo same process || echo "other process ($p, was $pid)")"

# SIGTERM while blocked on the FIFO ends it at once, cleanly: by SIGTERM,
# not the SIGKILL the daemon sends after its 10 s stop-timeout (what it
# took depends on the machine's load; how it ended not)
t=$(( $(date +%s%N) / 1000000 ))
"$ctl" -s "$sock" stop filefeed >/dev/null || die "ctl stop"
wait_output 10 stopped svc_field filefeed state
echo "stop state: $(svc_field filefeed state)"
echo "stop ms: $(( $(date +%s%N) / 1000000 - t ))"
echo "stop last_exit: $(svc_field filefeed last_exit)"
echo "stop timeout logged: $(grep -q "Service filefeed did not stop within" daemon.log && echo yes || echo no)"
sanitizer_reports
