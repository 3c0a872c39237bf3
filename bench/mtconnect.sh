#!/bin/bash
# bench/mtconnect.sh - mtconnect-adapter: change -> SHDR line latency, the
# cost of fanning out to several agents, and idle cost. Prints a markdown
# table. Runs against a fake region (tests/mtconnect/mtc-fake-region), so it
# needs no HAL; the fake bridge stamps each change (CLOCK_MONOTONIC) right
# before it publishes it, and the clients stamp each line as recv() returns.
#
#   bench/mtconnect.sh [--quick] [BUILD_DIR]      (default BUILD_DIR: ./build)
#
# Peer: none is run. There is no other SHDR adapter for HAL on Debian 12
# (LinuxCNC's Python adapter exists only in its unreleased master), so the
# table compares the adapter with itself at 1..N clients.
set -euo pipefail
quick=0
[ "${1:-}" = --quick ] && { quick=1; shift; }
B=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
fake=$B/tests/mtconnect/mtc-fake-region
adapter=$B/services/mtconnect-adapter
[ -x "$fake" ] && [ -x "$adapter" ] || { echo "build first: no $fake or $adapter" >&2; exit 1; }
region=mtc-bench-$$
work=$(mktemp -d)
apid=
cleanup() {
    set +e # a kill of what already went must not end the cleanup
    [ -n "$apid" ] && kill "$apid" 2>/dev/null && wait "$apid" 2>/dev/null
    "$fake" detach "$region" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
if [ $quick = 1 ]; then changes=300; fans="1 4"; idle_s=2; else changes=3000; fans="1 4 16"; idle_s=10; fi

cat > "$work/map.ini" <<EOF
[adapter]
listen = 127.0.0.1:0
availability = attached
max-clients = 32
[event parts]
pin = count
type = PART_COUNT
[sample Sspeed]
pin = speed
type = ROTARY_VELOCITY
EOF
"$fake" create "$region" count:u32,speed:float
HAL_MICROKERNEL_REGION=$region "$adapter" -c "$work/map.ini" 2>"$work/adapter.log" &
apid=$!
for _ in $(seq 200); do grep -q listening "$work/adapter.log" && break; sleep 0.05; done
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/adapter.log")
[ -n "$port" ] || { cat "$work/adapter.log" >&2; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$apid/stat"; }
wakeups() { awk '/voluntary_ctxt_switches/ {s += $2} END {print s}' /proc/$apid/task/*/status; }

# one run: N clients, $changes changes at 1 kHz (a 1 ms servo thread's
# worst case: a change every cycle); prints "p50 p99 max lost cpu_ms"
run() {
    local n=$1 c0 c1
    c0=$(cpu_ticks)
    python3 - "$port" "$n" "$changes" "$fake" "$region" <<'PY'
import selectors, socket, subprocess, sys, time
port, n, changes, fake, region = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
sel = selectors.DefaultSelector()
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, [b"", {}])
    socks.append(s)
def pump(t):
    for key, _ in sel.select(t):
        now = time.monotonic_ns()
        d = key.fileobj.recv(1 << 20)
        buf, got = key.data
        buf += d
        *lines, buf = buf.split(b"\n")
        key.data[0] = buf
        for ln in lines:
            f = ln.split(b"|")
            for k, v in zip(f[1::2], f[2::2]):
                if k == b"parts":
                    got.setdefault(int(v), now)
time.sleep(0.2)
pump(0.2)
ramp = subprocess.Popen([fake, "ramp", region, "count", str(changes), "1000"], stdout=subprocess.PIPE, text=True)
sent = {}
import os, threading
def reader():
    for line in ramp.stdout:
        v, t = line.split()
        sent[int(v)] = int(t)
th = threading.Thread(target=reader); th.start()
end = time.monotonic() + 60
while time.monotonic() < end:
    pump(0.05)
    if ramp.poll() is not None and all(changes in k.data[1] for k in sel.get_map().values()):
        break
th.join()
lat = []
lost = 0
for key in sel.get_map().values():
    got = key.data[1]
    for v, t in sent.items():
        if v in got:
            lat.append((got[v] - t) / 1000.0)
        else:
            lost += 1
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")
print("%.0f %.0f %.0f %d" % (q(0.5), q(0.99), lat[-1] if lat else float("nan"), lost))
for s in socks: s.close()
PY
    c1=$(cpu_ticks)
    echo "$(( (c1 - c0) * 1000 / $(getconf CLK_TCK) ))"
}

echo "## mtconnect-adapter ($(date -u +%Y-%m-%d), $(nproc) CPUs, ${changes} changes at 1 kHz per row)"
echo
echo "| clients | latency p50 (µs) | p99 (µs) | max (µs) | lines lost | adapter CPU (ms) | CPU per change (µs) |"
echo "|---|---|---|---|---|---|---|"
for n in $fans; do
    out=$(run "$n")
    read -r p50 p99 max lost <<<"$(echo "$out" | head -n 1)"
    cpu=$(echo "$out" | tail -n 1)
    echo "| $n | $p50 | $p99 | $max | $lost | $cpu | $(( cpu * 1000 / changes )) |"
done
notes=$(grep -E "fell|dropped" "$work/adapter.log" | grep -v "disconnected" || true)
[ -z "$notes" ] || { echo; echo "Adapter log during the runs:"; echo '```'; echo "$notes"; echo '```'; }
# idle: one agent connected, nothing changes: wake-ups per second, first
# as without a daemon (libhalmk's waiter looks every 10 ms), then with the
# daemon's relay armed (it sleeps until woken)
idle() {
rm -f "$work/idle.go"
python3 -c "
import socket, time
s = socket.create_connection(('127.0.0.1', $port))
time.sleep(0.5)
open('$work/idle.go', 'w').close()
time.sleep($idle_s + 0.5)
" &
ipid=$!
while [ ! -e "$work/idle.go" ]; do sleep 0.05; done
w0=$(wakeups); c0=$(cpu_ticks)
sleep "$idle_s"
w1=$(wakeups); c1=$(cpu_ticks)
wait $ipid
echo "| $1 | $(( (w1 - w0) / idle_s )) | $(( (c1 - c0) * 1000 / $(getconf CLK_TCK) )) |"
}
echo
echo "Idle: one agent connected, no changes, ${idle_s} s (availability = attached: the event loop itself has no timer)"
echo
echo "| relay | wake-ups/s (all threads) | CPU (ms) |"
echo "|---|---|---|"
idle "no daemon (10 ms slices)"
"$fake" arm "$region"
idle "armed (daemon running)"
