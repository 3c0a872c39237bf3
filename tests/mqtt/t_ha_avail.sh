# t_ha_avail - what Home Assistant makes of BASE/status through the
# discovery config's availability: available when online, NOT available on
# hal-down (HA ignores a payload that is neither payload_available nor
# payload_not_available, so this needs the template) and on offline (the
# will, and a clean stop). Availability is judged as HA judges it: the
# config's value_template rendered by jinja2 (HA's template engine) with
# `value` = the payload, then compared with the two payloads; no match
# leaves the previous state. --ha-remove: a clean stop clears the configs.
. "$(dirname "$0")/ha.sh"

# ha_judge: "payload=state" for each status payload seen so far, in order,
# with the state HA would conclude after it (available, unavailable, or
# the previous one when the payload matches neither)
ha_judge() {
    grep "^$BASE/status " "$T/sub.log" | cut -d' ' -f2 | python3 -c '
import json, sys, jinja2
(a,) = json.load(open(sys.argv[1]))["availability"]
tpl = jinja2.Environment().from_string(a["value_template"]) if "value_template" in a else None
state = "unknown"
for payload in sys.stdin.read().split():
    v = tpl.render(value=payload) if tpl else payload
    if v == a.get("payload_available", "online"):
        state = "available"
    elif v == a.get("payload_not_available", "offline"):
        state = "unavailable"
    print(payload + "=" + state, end=" ")' "$T/config.json"
}
ha_is() { [ "$(ha_judge | awk '{ print $NF }')" = "$1" ]; } # PAYLOAD=STATE of the latest

t_ha_avail() {
    python3 -c 'import jinja2' 2>/dev/null || { echo "SKIP: no python3-jinja2"; exit 77; }
    use_typed_region
    start_typed "--ha-discovery --ha-remove" none
    within 10 eval 'ha_configs | grep -q /sensor/m1/pin_0/config' || fail "no config for pin.0"
    ha_configs | grep /sensor/m1/pin_0/config | cut -d' ' -f2- >"$T/config.json"
    ha_is online=available || fail "online judged: $(ha_judge)"
    # LinuxCNC stopped: hal-down must make the entities unavailable
    "$RTOOL" detach "$REGION"
    wait_for 10 "hal-down" sub_has "$BASE/status hal-down"
    ha_is hal-down=unavailable || fail "hal-down judged: $(ha_judge)"
    "$RTOOL" create "$REGION" "$NSLOTS" || fail "region again"
    wait_for 10 "online again" seen_ge "$BASE/status online" 2
    # the gateway killed: the will (offline)
    local pid; pid=$(gw_pid)
    kill -KILL "$pid"
    wait_for 10 "offline (will)" sub_has "$BASE/status offline"
    wait_for 10 "gateway restarted" gw_running_new "$pid"
    wait_for 10 "online after the restart" seen_ge "$BASE/status online" 3
    # clean stop with --ha-remove: offline, and every config (4 in pins) cleared
    [ "$(ha_configs | grep -c /config)" -eq 4 ] || fail "configs before the stop: $(ha_configs)"
    "$CTL" -s "$SOCK" stop gw >/dev/null || fail "ctl stop"
    wait_for 10 "offline after stop" seen_ge "$BASE/status offline" 2
    # the whole history, judged after each payload (the restart is quick:
    # offline and online may come before any single look)
    local want="online=available hal-down=unavailable online=available offline=unavailable online=available offline=unavailable "
    [ "$(ha_judge)" = "$want" ] || fail "judged: $(ha_judge), want $want"
    [ -z "$(ha_configs)" ] || fail "configs left after --ha-remove: $(ha_configs)"
    echo "ha_avail: available/unavailable as HA judges online, hal-down, will, restart, stop; configs removed"
}
