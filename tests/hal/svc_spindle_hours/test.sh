# spindle-hours under the daemon: counts while the run pin is true,
# publishes hours on its out pin, and after SIGKILL restarts from the saved
# total, losing at most one save interval (plus the time it was down);
# refuses a corrupt state file; idles without CPU; survives a bridge reload.
. "$HMK_SRC/tests/hal/svc_lib.sh"
pins=run:bit:in,hours:float:out,wrong:float:in
state=$PWD/hours.state
sh_bin=$svcbin/spindle-hours

# bad input. Each wait is for the state wanted; met or timed out, what HAL
# and the state file show is printed and checkresult judges it.
said 'no --total' "$sh_bin" --run run
said 'save-s 0' "$sh_bin" --run run --total hours --save-s 0
echo "help usage line: $("$sh_bin" --help | grep -m1 '^Usage: ')"
printf 'spindle-hours 1\ntotal_ms 12x\n' > bad.state
cp bad.state bad.orig
said 'corrupt state' "$sh_bin" --run run --total hours --state bad.state
echo "corrupt state file changed: $(cmp -s bad.state bad.orig && echo no || echo yes)"

bridge_load "$pins"
printf 'spindle-hours 1\ntotal_ms 0\n' > x.state
said 'unknown pin' "$sh_bin" --run nosuch --total hours --state "$PWD/x.state"
said 'wrong pin type' "$sh_bin" --run wrong --total hours --state "$PWD/x.state"

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
wait_output 5 1 halpoke hours
echo "published saved total h: $(halpoke hours)"

# 1. count, 2. SIGKILL mid-count, 3. count on after the restart
# the spindle ran from some moment inside the first setp to some moment
# inside the second: both ends are measured (each halcmd takes longer on a
# loaded machine), the checks take the side that favours the service
t0=$(now_ms)
hal_cmd setp microkernel.run 1
t0_after=$(now_ms)
wait_until 10 state_at_least 3601500
echo "saved while counting ms: $(state_ms)"
sleep 0.8 # not a wait: land the kill late in the 1 s save interval, the worst case
saved=$(state_ms)
kill -9 "$pid"
t_kill=$(now_ms)
pid=$(wait_running spindle-hours "$pid")
t_up=$(now_ms)
wait_until 5 pin_at_least "$saved"
echo "saved at the kill ms: $saved"
echo "published after restart ms: $(pin_ms)"
wait_until 10 state_at_least $(( saved + 1500 ))
echo "saved after restart ms: $(state_ms)"
t1_before=$(now_ms)
hal_cmd setp microkernel.run 0
t1=$(now_ms)
"$ctl" -s "$sock" stop spindle-hours >/dev/null || die "ctl stop"
wait_output 10 stopped svc_field spindle-hours state || die "did not stop"
echo "temp file left: $([ -e "$state.tmp" ] && echo yes || echo no)"
got=$(( $(state_ms) - 3600000 ))
echo "ran ms: $(( t1 - t0 ))"
echo "counted ms: $got"
echo "lost ms: $(( t1_before - t0_after - got ))"
echo "down ms: $(( t_up - t_kill ))"

# 4. idle: spindle stopped, total saved: no timer, no CPU
"$ctl" -s "$sock" start spindle-hours >/dev/null || die "ctl start"
pid=$(wait_running spindle-hours)
wait_until 5 pin_at_least $(( 3600000 + got ))
echo "republished ms: $(pin_ms)"
read -r ticks woke <<<"$(idle_cpu "$pid" 10)"
echo "idle ticks in 10 s: $ticks"
echo "idle wake-ups in 10 s: $woke"

# 5. bridge reload while counting: the same process re-attaches, publishes
# the total on the new region's pin and counts on
hal_cmd setp microkernel.run 1
wait_until 10 state_at_least $(( 3600000 + got + 1000 ))
echo "saved before reload ms: $(state_ms)"
bridge_reload "$pins"
before=$(state_ms)
wait_until 5 pin_at_least "$before"
echo "saved at reload ms: $before"
echo "published after reload ms: $(pin_ms)"
hal_cmd setp microkernel.run 1
wait_until 10 state_at_least $(( before + 1000 ))
echo "saved after reload ms: $(state_ms)"
p=$(svc_pid spindle-hours)
echo "after reload spindle-hours: $([ "$p" = "$pid" ] && echo same process || echo "other process ($p, was $pid)")"
sanitizer_reports
