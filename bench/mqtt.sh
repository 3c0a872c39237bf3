#!/bin/bash
# bench/mqtt.sh [--quick] [BUILD_DIR] - mqtt-gateway through a real broker.
#
# A private mosquitto on 127.0.0.1 (free port, no persistence), a test
# region written the way the bridge writes it (bench/mqttlat.c), and
# mqtt-gateway publishing it. Measured in the same run, the peer: a plain
# MQTT client publishing the same values straight to the broker (what any
# publisher costs; the gateway adds the region read and the coalescing).
#   latency:    one change every 5 ms; change -> subscriber, p50/p99
#   rate:       2000 changes/s: does every change get through
#   throughput: changes as fast as the writer can make them; messages the
#               subscriber got per second (the gateway coalesces: latest value
#               wins) and whether the final value arrived exact
# Prints a markdown table. --quick: fewer samples (a smoke run).
set -eu
quick=0
[ "${1:-}" = --quick ] && { quick=1; shift; }
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
gw=$build/services/mqtt-gateway
lat=$build/bench/mqttlat
rtool=$build/daemon/hmk-test-region
for f in "$gw" "$lat" "$rtool"; do [ -x "$f" ] || { echo "missing $f (build first)" >&2; exit 1; }; done
command -v mosquitto >/dev/null || { echo "no mosquitto (scripts/deps.sh)" >&2; exit 1; }
T=$(mktemp -d /tmp/hmk-bench-mqtt.XXXXXX)
REGION=hmk-bench-mqtt-$$
GPID=
. "$src/tests/mqtt/lib.sh"
cleanup() {
    set +e # a kill of what already went must not end the cleanup
    [ -n "$GPID" ] && kill -TERM "$GPID" 2>/dev/null && wait "$GPID" 2>/dev/null
    broker_stop
    rm -f "/dev/shm/$REGION" "/dev/shm/.$REGION.test" "/dev/shm/$REGION.waiters"
    rm -rf "$T"
}
trap cleanup EXIT
if [ $quick = 1 ]; then nlat=200 nthr=5000; else nlat=2000 nthr=100000; fi

broker_start >&2
"$rtool" create "$REGION" 1
"$gw" --host 127.0.0.1 --port "$PORT" --machine bench --region "$REGION" --qos 1 pin.0 2>"$T/gw.log" &
GPID=$!
topic=hal/bench/pin/pin.0
# the gateway is up once its first value is retained
for _ in $(seq 500); do [ -n "$(retained "$topic")" ] && break; done
[ -n "$(retained "$topic")" ] || { echo "gateway published nothing: $(cat "$T/gw.log")" >&2; exit 1; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

row() { # NAME MODE N RATE
    local c0 c1 out
    c0=$(ticks "$GPID")
    out=$("$lat" "$2" "$REGION" "$PORT" "$topic" "$3" "$4") || true
    c1=$(ticks "$GPID")
    # shellcheck disable=SC2086
    set -- "$1" $out
    local cpu=-
    [ "$1" = "${1#peer}" ] && cpu=$(( (c1 - c0) * 1000 / hz ))
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$3" "$5" "$7" "${9}" "${11}" \
        "${13}" "${15}" "$cpu"
}
echo
echo "| path | changes | msgs got | final | p50 µs | p99 µs | changes/s | msgs/s | gateway CPU ms |"
echo "|---|---|---|---|---|---|---|---|---|"
row "gateway, 200 changes/s" gw $nlat 200
row "peer: direct publish, 200/s" direct $nlat 200
row "gateway, 2000 changes/s" gw $((nlat * 5)) 2000
row "peer: direct publish, 2000/s" direct $((nlat * 5)) 2000
row "gateway, flood" gw $nthr 0
row "peer: direct publish, flood" direct $nthr 0
echo
echo "mosquitto $(mosquitto -h 2>/dev/null | sed -n 's/^mosquitto version \([^ ]*\).*/\1/p'), QoS 1, 127.0.0.1; $(nproc) CPUs; $(date -u +%F)"
