# spindle-hours under the daemon: counts while the run pin is true,
# publishes hours on its out pin, and after SIGKILL restarts from the saved
# total, losing at most one save interval (plus the time it was down);
# refuses a corrupt state file; idles without CPU; survives a bridge reload.
. "$HMK_SRC/tests/hal/svc_lib.sh"
pins=run:bit:in,hours:float:out,wrong:float:in
state=$PWD/hours.state
sh_bin=$svcbin/spindle-hours

# bad input
one_line_error 2 "$sh_bin" --run run
one_line_error 2 "$sh_bin" --run run --total hours --save-s 0
"$sh_bin" --help | grep -q '^Usage: spindle-hours' || die "--help"
printf 'spindle-hours 1\ntotal_ms 12x\n' > bad.state
cp bad.state bad.orig
one_line_error 1 "$sh_bin" --run run --total hours --state bad.state | grep -q 'corrupt state file' \
    || die "corrupt state not refused"
cmp -s bad.state bad.orig || die "corrupt state file was changed"
echo "corrupt state file refused, left as it was"

bridge_load "$pins"
printf 'spindle-hours 1\ntotal_ms 0\n' > x.state
one_line_error 1 "$sh_bin" --run nosuch --total hours --state "$PWD/x.state" | grep -q "'nosuch'" \
    || die "unknown pin"
one_line_error 1 "$sh_bin" --run wrong --total hours --state "$PWD/x.state" | grep -q "'wrong' is float" \
    || die "wrong pin type"

state_ms() { sed -n 's/^total_ms //p' "$state"; }
pin_ms() { halpoke hours | awk '{ printf "%d", $1 * 3600000 + 0.5 }'; }
state_at_least() { [ "$(state_ms)" -ge "$1" ]; }
pin_at_least() { [ "$(pin_ms)" -ge "$1" ]; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# an existing counter: 1 h
printf 'spindle-hours 1\ntotal_ms 3600000\n' > "$state"
{ daemon_ini; cat <<INI
[service spindle-hours]
exec = $sh_bin --run run --total hours --state $state --save-s 1
ready = fd
restart = always
backoff-initial = 100ms
writes = hours
INI
} > hmk.ini
daemon_start hmk.ini
pid=$(wait_running spindle-hours)
wait_output 5 1 halpoke hours || die "saved total not published: hours=$(halpoke hours)"
echo "published the saved total: 1 h"

# 1. count, 2. SIGKILL mid-count, 3. count on after the restart
# the spindle ran from some moment inside the first setp to some moment
# inside the second: both ends are measured (each halcmd takes longer on a
# loaded machine), the checks take the side that favours the service
t0=$(now_ms)
hal_cmd setp microkernel.run 1
t0_after=$(now_ms)
wait_until 10 state_at_least 3601500 || die "no progress saved: $(state_ms)"
saved=$(state_ms)
sleep 0.8 # not a wait: land the kill late in the 1 s save interval, the worst case
saved=$(state_ms)
kill -9 "$pid"
t_kill=$(now_ms)
pid=$(wait_running spindle-hours "$pid")
t_up=$(now_ms)
wait_until 5 pin_at_least "$saved" || die "restart lost the saved total ($(pin_ms) < $saved)"
wait_until 10 state_at_least $(( saved + 1500 )) || die "not counting after restart"
t1_before=$(now_ms)
hal_cmd setp microkernel.run 0
t1=$(now_ms)
"$ctl" -s "$sock" stop spindle-hours >/dev/null || die "ctl stop"
wait_output 10 stopped svc_field spindle-hours state || die "did not stop"
[ ! -e "$state.tmp" ] || die "temp file left behind"
got=$(( $(state_ms) - 3600000 ))
true_ms=$(( t1 - t0 )) down=$(( t_up - t_kill ))
lost=$(( t1_before - t0_after - got ))
echo "ran ${true_ms} ms, counted ${got} ms: lost ${lost} ms (bound: 1000 ms save interval + ${down} ms down + 300 ms)"
[ "$got" -le $(( true_ms + 20 )) ] || die "counted more than the spindle ran"
[ "$lost" -le $(( 1000 + down + 300 )) ] || die "lost more than one save interval (1 s) + downtime"
echo "SIGKILL lost at most one save interval"

# 4. idle: spindle stopped, total saved: no timer, no CPU
"$ctl" -s "$sock" start spindle-hours >/dev/null || die "ctl start"
pid=$(wait_running spindle-hours)
wait_until 5 pin_at_least $(( 3600000 + got )) || die "total not republished"
read -r ticks woke <<<"$(idle_cpu "$pid" 10)"
echo "idle spindle-hours: $ticks CPU ticks, $woke wake-ups in 10 s"
[ "$ticks" -le 5 ] || die "idle spindle-hours used $ticks ticks"
[ "$woke" -le 5 ] || die "idle spindle-hours woke $woke times in 10 s: a timer is running"

# 5. bridge reload while counting: the same process re-attaches, publishes
# the total on the new region's pin and counts on
hal_cmd setp microkernel.run 1
wait_until 10 state_at_least $(( 3600000 + got + 1000 )) || die "not counting before reload"
bridge_reload "$pins"
before=$(state_ms)
wait_until 5 pin_at_least "$before" || die "total not published after reload: $(halpoke hours)"
hal_cmd setp microkernel.run 1
wait_until 10 state_at_least $(( before + 1000 )) || die "not counting after reload"
[ "$(svc_pid spindle-hours)" = "$pid" ] || die "restarted instead of re-attached"
echo "re-attached after bridge reload (same pid), counting on"
svc_clean
