#!/bin/bash
# bench/mqtt-fleet.sh [--quick] [BUILD_DIR] - a simulated shop: N
# mqtt-gateways, each on its own region (the bridge simulator
# tests/daemon/hmk-test-region, one per machine, no HAL), all publishing to
# ONE local mosquitto, ONE subscriber on hal/+/pin/#.
#
# Each machine's pin.0 is set to the wall clock (ms) RATE times a second by
# the simulator's `clock` writer, so the subscriber measures change ->
# delivery on every message (arrival time minus the value; the change
# point is the writer's request, so the simulated bridge's 1 ms cycle is
# included). Per row: messages/s delivered to the subscriber, p50/p99
# latency, whether every machine's final value arrived exact, CPU (% of one
# CPU over the window) and RSS per gateway (mean and max), and the broker's
# CPU. N = 50 (--quick: 5), as many regions as the machine's /dev/shm and
# CPUs allow; rows at 10 and 50 changes/s per machine.
# No peer in this run: bench/mqtt.sh measures the gateway beside a plain
# publisher; here the question is how the fleet shares one broker.
set -eu
quick=0
[ "${1:-}" = --quick ] && { quick=1; shift; }
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
gw=$build/services/mqtt-gateway
rtool=$build/daemon/hmk-test-region
poke=$build/halpoke
for f in "$gw" "$rtool" "$poke"; do [ -x "$f" ] || { echo "missing $f (build first)" >&2; exit 1; }; done
command -v mosquitto >/dev/null || { echo "no mosquitto (scripts/deps.sh)" >&2; exit 1; }
if [ $quick = 1 ]; then N=5 SECS=3; else N=${HMK_FLEET_N:-50} SECS=10; fi
T=$(mktemp -d /tmp/hmk-bench-fleet.XXXXXX)
PFX=hmk-fleet-$$
GPIDS=() SUBPID=
. "$src/tests/mqtt/lib.sh"
cleanup() {
    # not under set -e: killing a process that already went fails, and
    # the rest of the cleanup must still run
    set +e
    local p
    [ -n "$SUBPID" ] && kill -TERM "$SUBPID" 2>/dev/null
    for p in "${GPIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    # a gateway gets 5 s to say offline; then it goes (the daemon would do the same)
    local end=$(( $(date +%s) + 5 ))
    for p in "${GPIDS[@]}"; do
        while kill -0 "$p" 2>/dev/null && [ "$(date +%s)" -le "$end" ]; do sleep 0.1; done
        kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null
    done
    for i in $(seq 1 "$N"); do "$rtool" detach "$PFX-$i" >/dev/null 2>&1 || true; done
    broker_stop
    rm -f /dev/shm/"$PFX"-* /dev/shm/."$PFX"-*
    rm -rf "$T"
}
trap cleanup EXIT

broker_start >&2
# many simulators share 2 CPUs: past 20 machines each simulated bridge runs
# at 100 Hz instead of 1 kHz (a 1 kHz simulator costs ~3 % of a CPU; 50 of
# them and their writers alone would saturate the machine), so a change
# waits up to 10 ms for its cycle, which the latencies then include
SIM_US=1000
[ "$N" -gt 20 ] && SIM_US=10000
for i in $(seq 1 "$N"); do
    HMK_SIM_PERIOD_US=$SIM_US "$rtool" create "$PFX-$i" 1 || { echo "region $i: the simulator allows $((i - 1))" >&2; N=$((i - 1)); break; }
done
mosquitto_sub -h 127.0.0.1 -p "$PORT" -t 'hal/+/pin/#' -F '%U %t %p' >"$T/sub.log" 2>&1 &
SUBPID=$!
for i in $(seq 1 "$N"); do
    "$gw" --host 127.0.0.1 --port "$PORT" --machine "m$i" --region "$PFX-$i" --qos 1 pin.0 2>"$T/gw$i.log" &
    GPIDS+=($!)
done
# every gateway connected once its first value arrived
end=$(( $(date +%s) + 60 ))
until [ "$(cut -d' ' -f2 "$T/sub.log" | sort -u | wc -l)" -ge "$N" ]; do
    [ "$(date +%s)" -gt "$end" ] && { echo "gateways not all up: $(cut -d' ' -f2 "$T/sub.log" | sort -u | wc -l)/$N" >&2; exit 1; }
    sleep 0.1
done

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

# every machine's last delivered value equals its region's in value
finals_exact() {
    local i want got
    for i in $(seq 1 "$N"); do
        want=$("$poke" -r "$PFX-$i" --list | awk '$4 == "pin.0" { print $5 }')
        got=$(grep " hal/m$i/pin/pin.0 " "$T/sub.log" | tail -n 1 | cut -d' ' -f3)
        [ "$want" = "$got" ] || return 1
    done
}

row() { # RATE
    local rate=$1 t0 t1 c0=() c1=() b0 b1 i wpids=() end
    for p in "${GPIDS[@]}"; do c0+=("$(ticks "$p")"); done
    b0=$(ticks "$BPID")
    t0=$(date +%s%N)
    for i in $(seq 1 "$N"); do "$rtool" clock "$PFX-$i" 0 "$rate" "$SECS" & wpids+=($!); done
    wait "${wpids[@]}"
    end=$(( $(date +%s) + 30 ))
    exact=yes
    until finals_exact; do [ "$(date +%s)" -gt "$end" ] && { exact=NO; break; }; sleep 0.1; done
    t1=$(date +%s%N)
    for p in "${GPIDS[@]}"; do c1+=("$(ticks "$p")"); done
    b1=$(ticks "$BPID")
    local cpu="" rs=""
    for i in "${!GPIDS[@]}"; do
        cpu+="$(( c1[i] - c0[i] )) "
        rs+="$(rss "${GPIDS[$i]}") "
    done
    python3 - "$T/sub.log" "$t0" "$t1" "$N" "$rate" "$SECS" "$hz" "$cpu" "$rs" "$((b1 - b0))" "$exact" <<'PY'
import sys, statistics
log, t0, t1, n, rate, secs, hz = sys.argv[1], int(sys.argv[2]) / 1e9, int(sys.argv[3]) / 1e9, *map(int, sys.argv[4:8])
cpu = [int(x) for x in sys.argv[8].split()]
rss = [int(x) for x in sys.argv[9].split()]
bcpu, exact = int(sys.argv[10]), sys.argv[11]
win = t1 - t0
lat, got = [], 0
for line in open(log):
    f = line.split()
    if len(f) != 3 or float(f[0]) < t0:
        continue
    got += 1
    lat.append(float(f[0]) * 1000 - float(f[2]))
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")
pc = lambda t: 100.0 * t / hz / win
print("| %d gateways × %d changes/s | %d | %d | %.0f | %.2f | %.2f | %s | %.1f / %.1f | %d / %d | %.1f |"
      % (n, rate, n * rate * secs, got, got / secs, q(0.5), q(0.99), exact,
         pc(statistics.mean(cpu)), pc(max(cpu)), statistics.mean(rss), max(rss), pc(bcpu)))
PY
}
echo
echo "| fleet | changes made | msgs got | msgs/s | p50 ms | p99 ms | finals exact | gateway CPU % mean / max | gateway RSS kB mean / max | broker CPU % |"
echo "|---|---|---|---|---|---|---|---|---|---|"
row 10
row 50
echo
echo "mosquitto $(mosquitto -h 2>/dev/null | sed -n 's/^mosquitto version \([^ ]*\).*/\1/p'), QoS 1, 127.0.0.1, one subscriber on hal/+/pin/#; ${SECS} s per row; simulated bridge cycle $((SIM_US / 1000)) ms; $(nproc) CPUs (shared); $(date -u +%F)"
exit 0
