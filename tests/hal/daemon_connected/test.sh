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
wait_until 5 grep -q "Waiting for region 'hal-microkernel'" daemon.log
echo "daemon log lines saying it waits: $(grep -c "Waiting for region 'hal-microkernel'" daemon.log)"
echo "daemon running without a region: $(kill -0 $dpid 2>/dev/null && echo yes || echo no)"
t0=$(awk '{ print $14 + $15 }' /proc/$dpid/stat)
sleep 1   # the measurement window, not a wait
t1=$(awk '{ print $14 + $15 }' /proc/$dpid/stat)
echo "CPU ticks in 1 s while waiting: $(( t1 - t0 ))"

cat > hal.hal <<'HAL'
loadrt threads name1=servo-thread period1=1000000
loadrt hal_microkernel_bridge timeout_ms=300
addf microkernel.update servo-thread
start
HAL
hal_load hal.hal
wait_output 10 TRUE getp microkernel.connected
echo "connected after loadrt: $(getp microkernel.connected)"

# attached, it does not wake for other objects coming and going in /dev/shm
w0=$(awk '/^voluntary_ctxt_switches/ { print $2 }' /proc/$dpid/status)
t0=$(date +%s%N)
for i in $(seq 1 300); do : > /dev/shm/hmk-noise-$i; rm -f /dev/shm/hmk-noise-$i; done
w1=$(awk '/^voluntary_ctxt_switches/ { print $2 }' /proc/$dpid/status)
echo "/dev/shm noise lasted: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
echo "daemon wake-ups during the noise: $(( w1 - w0 ))"

# how long one look at the pin takes on this machine now: the drop below
# is seen by such looks
p0=$(date +%s%N)
getp microkernel.connected >/dev/null; getp microkernel.connected >/dev/null; getp microkernel.connected >/dev/null
echo "one look at a pin takes: $(( ($(date +%s%N) - p0) / 3000000 )) ms"
c0=$(update_count)
start=$(date +%s%N)
kill -STOP $dpid
wait_output 10 FALSE getp microkernel.connected
echo "connected dropped after: $(( ($(date +%s%N) - start) / 1000000 )) ms (timeout 300 ms)"
echo "connected with the daemon hung: $(getp microkernel.connected)"
kill -9 $dpid
wait $dpid 2>/dev/null
wait_cycles 50
echo "cycles since the daemon hung: $(( $(update_count) - c0 ))"
