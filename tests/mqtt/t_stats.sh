# t_stats - BASE/stats: the daemon's reaction-time numbers of its services
# (hal-microkernelctl stats), asked every --stats-interval and published,
# retained, only when they change. The gateway itself is a framework
# service with a deadline here (10 s: far above any reaction, even on a busy machine), so its own reactions to the region's changes
# are what the numbers count; they agree with hal-microkernelctl's.

INTERVAL=200
# stats_has PY: the last BASE/stats message satisfies PY (s: gw's object)
stats_has() {
    tail -n 1 "$T/stats.log" | python3 -c "
import json, sys
try:
    j = json.loads(sys.stdin.read())
except ValueError:
    sys.exit(1)
s = [x for x in j['services'] if x['name'] == 'gw']
sys.exit(0 if s and ($1) else 1)" "$@"
}
# numbers NAME FIELD: one field of the control tool's --json stats
numbers() { "$CTL" -s "$SOCK" --json stats "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['$2'])"; }

t_stats() {
    broker_start || fail "broker"
    "$RTOOL" create "$REGION" 4 || fail "region"
    gateway_conf "--stats-interval $INTERVAL"
    printf 'deadline = 10s\n' >>"$T/conf.ini"
    "$DAEMON" -c "$T/conf.ini" 2>>"$T/daemon.log" &
    DPID=$!
    subscribe
    wait_for 10 "status online" sub_has "$BASE/status online"
    mosquitto_sub -h 127.0.0.1 -p "$PORT" -t "$BASE/stats" >"$T/stats.log" 2>&1 &
    XPIDS="$XPIDS $!"
    wait_for 10 "first stats message" stats_has "s[0]['deadline_ns'] == 10000000000"
    local i
    for i in $(seq 1 10); do
        "$RTOOL" set-in "$REGION" 0 "$i" || fail "set-in"
        wait_for 10 "pin.0 = $i" last_is pin.0 "$i"
    done
    wait_for 10 "10 reactions in BASE/stats" stats_has "s[0]['count'] >= 10 and s[0]['misses'] == 0 and 0 < s[0]['p99_le_ns'] < 10**10"
    # the same numbers as the control tool's
    local count; count=$(numbers gw count)
    wait_for 10 "BASE/stats agrees with hal-microkernelctl ($count)" stats_has "s[0]['count'] == $count"
    [ "$(retained "$BASE/stats" | python3 -c "import json,sys; print([x['count'] for x in json.load(sys.stdin)['services'] if x['name'] == 'gw'][0])")" = "$count" ] ||
        fail "retained BASE/stats: $(retained "$BASE/stats")"
    # nothing changes: asked every 200 ms, published never (a window of
    # five questions)
    local n0 n1
    n0=$(wc -l <"$T/stats.log")
    sleep 1
    n1=$(wc -l <"$T/stats.log")
    [ "$n1" = "$n0" ] || fail "$((n1 - n0)) stats messages with nothing changed"
    echo "stats: BASE/stats counted $count reactions of the gateway, as hal-microkernelctl does; quiet when unchanged"
}
