# t_state - the bulk state topic (--state-interval): BASE/state is one
# valid JSON object holding every pin's value exactly as the region has it
# (halpoke --list, the region's halcmd) plus "cycle"; retained; and under a
# flood of changes it is rate-limited, latest value wins: the number of
# state messages in a measured window is at most elapsed/interval + 2, while
# the pin topics carry the flood, and the last one is exact.
. "$(dirname "$0")/ha.sh"

INTERVAL=200
# state_matches FILE: the last JSON object in FILE equals the region now
state_matches() {
    "$POKE" -r "$REGION" --list >"$T/list.txt" || return 1
    tail -n 1 "$1" | sed 's/^[0-9.]* //' >"$T/state.json"
    python3 - "$T/list.txt" "$T/state.json" <<'PY'
import json, sys
want = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) != 6 or not f[0].isdigit():
        continue
    _, typ, d, name, vin, vout = f
    text = vin if d in ("in", "io") else vout
    want[name] = {"bit": lambda t: t == "TRUE", "float": float, "s32": int, "u32": int}[typ](text)
try:
    got = json.loads(open(sys.argv[2]).read())
except ValueError as e:
    print("not JSON:", e); sys.exit(2)
cycle = got.pop("cycle", None)
ok = isinstance(cycle, int) and cycle > 0 and got == want
# a bit is true/false, never 1/0, and a number never a bool (JSON has no
# int/float distinction: 0 may read back as int for a float pin)
ok = ok and all(isinstance(got[k], bool) == isinstance(want[k], bool) for k in want)
sys.exit(0 if ok else 1)
PY
}

t_state() {
    use_typed_region
    start_typed "--state-interval $INTERVAL --set lamp" lamp
    mosquitto_sub -h 127.0.0.1 -p "$PORT" -t "$BASE/state" -F '%U %p' >"$T/state.log" 2>&1 &
    local spid=$!
    XPIDS+=" $spid"
    wait_for 10 "a first state" grep -q '{' "$T/state.log"
    # one change of each type, and an out pin written by command
    "$RTOOL" set "$REGION" 0 1.5 && "$RTOOL" set "$REGION" 3 1 && "$RTOOL" set "$REGION" 4 -5 || fail "set"
    pub -t "$BASE/pin/lamp/set" -m TRUE
    wait_for 10 "lamp on" out_is lamp TRUE
    within 10 state_matches "$T/state.log" || fail "state differs from the region: $(cat "$T/state.json") vs $(cat "$T/list.txt")"
    grep -q '"estop":true' "$T/state.json" && grep -q '"count":-5' "$T/state.json" || fail "state: $(cat "$T/state.json")"
    [ "$(retained "$BASE/state")" = "$(cat "$T/state.json")" ] || fail "not retained: $(retained "$BASE/state")"
    # the flood: both float pins change every cycle for 3 s
    local t0 n_pin0
    n_pin0=$(grep -c "^$BASE/pin/pin.0 " "$T/sub.log")
    t0=$(date +%s%N)
    "$RTOOL" storm "$REGION" 1000 3 || fail "storm"
    within 10 state_matches "$T/state.log" || fail "final state after the flood: $(cat "$T/state.json") vs $(cat "$T/list.txt")"
    kill "$spid"
    python3 - "$T/state.log" "$t0" "$INTERVAL" "$(( $(grep -c "^$BASE/pin/pin.0 " "$T/sub.log") - n_pin0 ))" <<'PY' || fail "rate"
import json, sys
log, t0, interval, pin_msgs = sys.argv[1], int(sys.argv[2]) / 1e9, int(sys.argv[3]) / 1e3, int(sys.argv[4])
msgs = [(float(l.split(" ", 1)[0]), json.loads(l.split(" ", 1)[1])) for l in open(log) if l.strip()]
cycles = [m["cycle"] for _, m in msgs]
assert cycles == sorted(cycles), "cycle went backwards: %s" % cycles
during = [t for t, _ in msgs if t >= t0]
elapsed = during[-1] - t0
bound = elapsed / interval + 2
print("state: %d messages in %.2f s at %d ms (bound %.1f); pin.0 got %d messages meanwhile"
      % (len(during), elapsed, interval * 1000, bound, pin_msgs))
assert len(during) <= bound, "more state messages than the interval allows"
assert len(during) >= 3, "state not published during the flood"
assert pin_msgs > 2 * len(during), "no flood reached the pin topics"
PY
    echo "state: JSON matches the region, retained, rate-limited under a flood"
}
