#!/bin/bash
# demo.sh - a real HAL with the bridge, the supervisor daemon and the
# example services, and live pins.
# Installs dependencies, builds, installs the bridge into LinuxCNC's module
# directory, starts configs/demo.hal (siggen driving in pins, an out pin
# looped back into an in pin) and the daemon with
# configs/hal-microkernel-demo.ini (pinlog, spindle-hours, filefeed, web),
# the gateways and the Python service coolant-follow. Then, for
# DEMO_SECONDS (default 20, 0 = until Ctrl-C), writes out values with
# halpoke, feeds numbers to filefeed through its FIFO, shows what an
# MTConnect agent and an MQTT subscriber receive, how coolant-follow
# (Python) follows spindle-at-speed, and prints the region, the HAL pins,
# the services' state and the newest pinlog lines. Everything is stopped on
# exit.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${HMK_BUILD_DIR:-$src/build}/default
seconds=${DEMO_SECONDS:-20}
"$src/scripts/deps.sh"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
cmake --build "$build" --target install-bridge >/dev/null
export PATH=$build:$build/daemon:$PATH
if [ "$(id -u)" = 0 ]; then
    export RTAPI_UID=${RTAPI_UID:-65534} RTAPI_FIFO_PATH=${RTAPI_FIFO_PATH:-/tmp/hmk-rtapi-fifo}
fi
work=$(mktemp -d /tmp/hmk-demo.XXXXXX)
dpid= bpid=
stop() {
    [ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
    [ -n "$bpid" ] && kill -TERM "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
    halrun -U >>"$work/hal.log" 2>&1 </dev/null || true
    echo "demo stopped; logs in $work"
}
trap stop EXIT
# one HAL per machine: wait for any test run to finish
exec 9>/tmp/hmk-hal.lock
flock 9
halrun -U >>"$work/hal.log" 2>&1 </dev/null || true
rm -f /tmp/hmk-demo-pins.jsonl* /tmp/hmk-demo-feed

cd "$src/configs"
# 9>&-: rtapi_app, started here, must not hold the HAL lock
halcmd -f demo.hal >>"$work/hal.log" 2>&1 </dev/null 9>&- || { cat "$work/hal.log"; exit 1; }
# the services come from this build, not from an installed copy
sed "s|^env = PATH=.*|env = PATH=$build/services:/usr/bin:/bin|" hal-microkernel-demo.ini > "$work/demo.ini"
# the shop-floor gateways, as an integrator runs them: an MTConnect adapter
# for the shop's agent, and an MQTT gateway on a broker (here a local one of
# the demo's own, on a port of its own)
broker_port=18830
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$broker_port" \
    > "$work/mosquitto.conf"
/usr/sbin/mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
bpid=$!
cat >> "$work/demo.ini" <<INI

[service mtconnect-adapter]
exec = mtconnect-adapter -c $src/configs/mtconnect-demo.ini
ready = fd
restart = always
backoff-initial = 200ms
env = PATH=$build/services:/usr/bin:/bin
writes = none

[service mqtt-gateway]
exec = mqtt-gateway --host 127.0.0.1 --port $broker_port --machine demo --set coolant --deadband 0.001
ready = fd
restart = always
backoff-initial = 200ms
env = PATH=$build/services:/usr/bin:/bin
writes = coolant
INI
# the example service in Python (halmk from this build): flood on half a
# second after spindle-at-speed, off with it; a pin of its own (demo.hal)
pymod=$(ls "$build"/python/halmk.*.so 2>/dev/null || true)
[ -n "$pymod" ] || { echo "demo: the halmk module was not built (python3-dev missing?)" >&2; exit 1; }
cat >> "$work/demo.ini" <<INI

[service coolant-follow]
exec = /usr/bin/python3 $src/services/coolant-follow/coolant-follow --coolant flood --on-delay 0.5
ready = fd
restart = always
backoff-initial = 200ms
env = PYTHONPATH=$build/python
writes = flood
INI
hal-microkernel -n -c "$work/demo.ini"
hal-microkernel -c "$work/demo.ini" 2>"$work/daemon.log" &
dpid=$!
echo "HAL runs configs/demo.hal; the daemon runs $work/demo.ini (log: $work/daemon.log)"
for _ in $(seq 1 100); do
    [ "$(halcmd -s getp microkernel.connected 2>/dev/null)" = TRUE ] && break
    sleep 0.05
done
halcmd show thread
# isolation: a user who may read the region has no write channel
echo "a reader (uid 65534, in the region's group) trying to write:"
setpriv --reuid=65534 --regid=65534 --groups="$(stat -c %g /dev/shm/hal-microkernel)" \
    "$build/halpoke" pin.1 99 2>&1 | sed 's/^/  /' || true
ctl() { hal-microkernelctl -s /tmp/hmk-demo-control "$@"; }
for _ in $(seq 1 100); do   # both gateways and coolant-follow up (5 s at most)
    ctl status mtconnect-adapter 2>/dev/null | grep -q running \
        && ctl status mqtt-gateway 2>/dev/null | grep -q running \
        && ctl status coolant-follow 2>/dev/null | grep -q running && break
    sleep 0.05
done
# the Python service reacting, seen from Python too: a read-only halmk
# watcher sleeps in the kernel until spindle-at-speed (siggen's clock) or
# flood-fb (coolant-follow's flood, back through HAL) changes, and reports
# one on and one off edge in servo cycles (1 ms); 20 s deadline
echo "coolant-follow (Python) following spindle-at-speed, watched from Python:"
PYTHONPATH=$build/python /usr/bin/python3 - <<'PY' 2>&1 | sed 's/^/  /' || { echo "demo: coolant-follow did not react: see $work/daemon.log" >&2; exit 1; }
import sys, time, halmk
with halmk.open(readonly=True) as r:
    end, edge, seen = time.monotonic() + 20, None, set()
    while len(seen) < 2:
        left = end - time.monotonic()
        if left <= 0:
            sys.exit("flood did not follow spindle-at-speed within 20 s")
        try:
            changed = r.wait(["spindle-at-speed", "flood-fb"], timeout=left)
        except halmk.Timeout:
            continue
        cycle, snap = r.snapshot(with_cycle=True)
        if "spindle-at-speed" in changed:
            edge = (snap["spindle-at-speed"], cycle)
            print("cycle %d: spindle-at-speed -> %s" % (cycle, snap["spindle-at-speed"]))
        if "flood-fb" in changed and edge and snap["flood-fb"] == edge[0]:
            print("cycle %d: flood -> %s, %d servo cycles later (%s)"
                  % (cycle, snap["flood-fb"], cycle - edge[1],
                     "coolant-follow --on-delay 0.5" if edge[0] else "off at once"))
            seen.add(snap["flood-fb"])
            sys.stdout.flush()
PY
echo "live pins in a browser on this machine: http://127.0.0.1:8080/ (halweb, read-only)"
echo "an MTConnect agent's view (SHDR on 127.0.0.1:7878, first lines):"
timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/7878 && head -n 6 <&3' 2>/dev/null | sed 's/^/  /' \
    || echo "  (no adapter answering: see $work/daemon.log)"
echo "the shop's MQTT broker (mosquitto_sub -t 'hal/demo/#', first messages):"
timeout 5 mosquitto_sub -h 127.0.0.1 -p "$broker_port" -t 'hal/demo/#' -v -C 8 -W 4 2>/dev/null \
    | sed 's/^/  /' || true
start=$(date +%s)
i=0
while [ "$seconds" = 0 ] || [ $(( $(date +%s) - start )) -lt "$seconds" ]; do
    # a "service" of our own: a setpoint and a bit, as one transaction
    halpoke pin.1 "$(awk -v i=$i 'BEGIN { printf "%.3f", 10 * sin(i / 5) }')" \
            coolant "$(( i / 10 % 2 ))"
    # filefeed does the blocking read a realtime component never may
    if [ $(( i % 3 )) = 0 ] && [ -p /tmp/hmk-demo-feed ]; then
        timeout 2 sh -c "echo $(( 100 + i )).5 > /tmp/hmk-demo-feed" || true
    fi
    printf '\n--- t=%ss ---------------------------------------------\n' $(( $(date +%s) - start ))
    halpoke --list
    echo "HAL:"
    halcmd -s show pin microkernel | awk '$5 ~ /(pin\.[0-3]\.|connected|fault$|update-count|coolant|flood$)/ { printf "  %-28s %s\n", $5, $4 }'
    echo "coolant-follow (Python): spindle-at-speed $(halcmd -s getp microkernel.spindle-at-speed) -> flood $(halcmd -s getp microkernel.flood)"
    echo "Services:"
    ctl status | sed 's/^/  /'
    echo "pinlog (last 2 lines of /tmp/hmk-demo-pins.jsonl):"
    tail -n 2 /tmp/hmk-demo-pins.jsonl 2>/dev/null | sed 's/^/  /' || true
    i=$(( i + 1 ))
    sleep 1
done
