# The daemon started before loadrt waits, then attaches; connected goes TRUE
# while it runs, and FALSE within the timeout after it hangs (SIGSTOP: alive,
# but its heartbeat goes stale); HAL keeps running throughout. (A daemon that
# dies is seen at once through its alive word: tests/fault/daemon_death.)
. "$HMK_TESTLIB"
daemon=$HMK_BIN/daemon/hal-microkernel
[ -x "$daemon" ] || die "no daemon at $daemon"
cat > hmk.ini <<'INI'
[daemon]
region = hal-microkernel
heartbeat-period = 50ms
control-socket = none
log-level = debug
INI
"$daemon" -n -c hmk.ini || die "config check failed"
"$daemon" -c hmk.ini 2>daemon.log &
dpid=$!
trap 'kill -9 $dpid 2>/dev/null' EXIT
# it waits for the region, alive and idle
wait_until 5 grep -q "Waiting for region 'hal-microkernel'" daemon.log \
    || die "daemon not waiting for the region: $(cat daemon.log)"
kill -0 $dpid || die "daemon exited without a region: $(cat daemon.log)"
t0=$(awk '{ print $14 + $15 }' /proc/$dpid/stat)
sleep 1   # the measurement window, not a wait
t1=$(awk '{ print $14 + $15 }' /proc/$dpid/stat)
[ $(( t1 - t0 )) -le 2 ] || die "daemon used $(( t1 - t0 )) ticks in 1 s while waiting"
echo "waiting daemon idle"

cat > hal.hal <<'HAL'
loadrt threads name1=servo-thread period1=1000000
loadrt hal_microkernel_bridge timeout_ms=300
addf microkernel.update servo-thread
start
HAL
hal_load hal.hal
wait_output 10 TRUE getp microkernel.connected || die "connected never went TRUE: $(cat daemon.log)"
echo "connected TRUE"

# attached, it does not wake for other objects coming and going in /dev/shm
w0=$(awk '/^voluntary_ctxt_switches/ { print $2 }' /proc/$dpid/status)
t0=$(date +%s%N)
for i in $(seq 1 300); do : > /dev/shm/hmk-noise-$i; rm -f /dev/shm/hmk-noise-$i; done
w1=$(awk '/^voluntary_ctxt_switches/ { print $2 }' /proc/$dpid/status)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
# its heartbeat wakes it every 50 ms; 600 /dev/shm events must add nothing
[ $(( w1 - w0 )) -le $(( ms / 50 + 20 )) ] || die "daemon woke $(( w1 - w0 )) times in $ms ms of /dev/shm noise"
echo "no wake-ups for /dev/shm noise"

# how long one look at the pin takes on this machine now: the drop below
# is seen by such looks
p0=$(date +%s%N)
getp microkernel.connected >/dev/null; getp microkernel.connected >/dev/null; getp microkernel.connected >/dev/null
look=$(( ($(date +%s%N) - p0) / 3000000 ))
c0=$(update_count)
start=$(date +%s%N)
kill -STOP $dpid
wait_output 10 FALSE getp microkernel.connected || die "connected stayed TRUE"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
bound=$(( 2000 + 2 * look ))
echo "connected FALSE after ${ms} ms (timeout 300 ms; bound $bound ms, a look takes $look ms)"
[ $ms -ge 200 ] || die "connected dropped too early (${ms} ms): not driven by the heartbeat age"
[ $ms -le $bound ] || die "connected took ${ms} ms to drop"
kill -9 $dpid
wait $dpid 2>/dev/null
wait_cycles 50
echo "HAL kept running: $(( $(update_count) - c0 )) cycles since the daemon hung"
