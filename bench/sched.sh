#!/bin/bash
# bench/sched.sh [--quick] [--build DIR] - a service's reaction time by
# scheduling class (the daemon's `sched =`), quiet and under a CPU hog, in
# one run: the same framework service (tests/daemon/hmk-test-react, stream
# mode) three times under one daemon, as `other`, `fifo:50` and
# `deadline:500us/2ms/2ms`, reading the same pin of a userspace bridge
# (hmk-web-region, at SCHED_FIFO 70 as LinuxCNC's servo thread would be).
# The pin carries the wall clock at the moment it was set (200 changes/s);
# each service logs now - value per change: setter -> bridge cycle ->
# daemon's relay -> the service's handler. The hog is two busy loops per
# CPU at SCHED_OTHER. The daemon runs at SCHED_FIFO 60 (its relay thread
# fans the bridge's wake-up out to the services; left at SCHED_OTHER it
# would make every class wait for the hog alike).
# Also: each service's misses of a 2 ms deadline, from its telemetry block
# (hal-microkernelctl stats). Prints a markdown table. No HAL needed; root.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build
SECS=20
while [ $# -gt 0 ]; do
    case $1 in
        --quick) SECS=4 ;;
        --build) build=$(cd "$2" && pwd); shift ;;
        *) echo "sched.sh: unknown argument '$1' (use --quick, --build DIR)" >&2; exit 2 ;;
    esac
    shift
done
die() { echo "sched.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (realtime classes)"
chrt -f 1 true 2>/dev/null || die "this kernel refuses realtime classes to root"
cmake --build "$build" -j2 --target hal-microkernel hal-microkernelctl hmk-test-react hmk-web-region \
    >/dev/null 2>&1 || die "build failed (configure $build first)"
work=$(mktemp -d /tmp/hmk-schedbench.XXXXXX)
region=hmk-schedbench-$$
sim=$build/hmk-web-region react=$build/daemon/hmk-test-react
dpid= hogs=()
cleanup() {
    [ ${#hogs[@]} -gt 0 ] && kill "${hogs[@]}" 2>/dev/null
    [ -n "$dpid" ] && { kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
    "$sim" detach "$region" >/dev/null 2>&1
    rm -f /dev/shm/"$region" /dev/shm/"$region".stream
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

chrt -f 70 "$sim" create "$region" 1 >/dev/null || die "simulator"
classes=(other fifo deadline)
declare -A sched=([other]=other [fifo]=fifo:50 [deadline]=deadline:500us/2ms/2ms)
{
    printf '[daemon]\nregion = %s\ncontrol-socket = %s/ctl\nrt-cpus = none\n' "$region" "$work"
    for c in "${classes[@]}"; do
        printf '\n[service %s]\nexec = %s clock %s/%s.us\nsched = %s\ndeadline = 2ms\n' \
            "$c" "$react" "$work" "$c" "${sched[$c]}"
    done
} >"$work/hmk.ini"
chrt -f 60 "$build/daemon/hal-microkernel" -c "$work/hmk.ini" 2>"$work/daemon.log" &
dpid=$!
ctl() { "$build/daemon/hal-microkernelctl" -s "$work/ctl" "$@"; }
end=$(( $(date +%s) + 60 ))
until [ "$(ctl status 2>/dev/null | grep -c ' running ')" = 3 ]; do
    [ "$(date +%s)" -lt "$end" ] || { cat "$work/daemon.log" >&2; die "services not running"; }
    sleep 0.1
done

# phase NAME: SECS seconds of 200 changes/s; each service's samples kept
phase() {
    for c in "${classes[@]}"; do : >"$work/$c.us"; done
    chrt -f 70 "$sim" clock "$region" 0 200 "$SECS" || die "clock"
    sleep 0.5 # the last changes' handlers: a measurement tail, not a wait
    for c in "${classes[@]}"; do cp "$work/$c.us" "$work/$1-$c.us"; done
    ctl --json stats >"$work/$1-stats.json"
}
phase quiet
for i in $(seq 1 $(( 2 * $(nproc) ))); do (while :; do :; done) & hogs+=($!); done
phase hog
kill "${hogs[@]}" 2>/dev/null; wait "${hogs[@]}" 2>/dev/null; hogs=()

pct() { sort -n "$1" | awk -v p="$2" '{ v[n++] = $1 } END { if (!n) { print "-"; exit }
    i = int(p * n); if (i >= n) i = n - 1; printf "%.0f", v[i] }'; }
misses() { python3 -c 'import json, sys
d = {s["name"]: s for s in json.load(open(sys.argv[1]))}
print(d[sys.argv[2]]["misses"])' "$1" "$2"; }
echo "| class | load | changes | p50 us | p99 us | max us | misses of 2 ms (cumulative) |"
echo "|---|---|---|---|---|---|---|"
for ph in quiet hog; do
    for c in "${classes[@]}"; do
        f=$work/$ph-$c.us
        echo "| ${sched[$c]} | $ph | $(wc -l <"$f") | $(pct "$f" 0.5) | $(pct "$f" 0.99) | $(pct "$f" 1) |" \
             "$(misses "$work/$ph-stats.json" "$c") |"
    done
done
echo
echo "$(nproc) CPUs, $SECS s per phase at 200 changes/s; hog: $(( 2 * $(nproc) )) busy loops at SCHED_OTHER."
