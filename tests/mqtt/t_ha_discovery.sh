# t_ha_discovery - Home Assistant discovery for a mix of pin types and
# grants: one retained, well-formed config per pin with the component its
# type and grant call for (granted bit -> switch, granted float -> number,
# in bit -> binary_sensor, in float/s32 -> sensor; an ungranted pin is never
# a control); the switch's and number's command topics write through the
# grant; HA's "online" on homeassistant/status brings the configs again.
. "$(dirname "$0")/ha.sh"

t_ha_discovery() {
    use_typed_region
    start_typed "--ha-discovery --set lamp,pin.1" lamp,pin.1
    local want=5
    within 10 eval '[ "$(ha_configs | grep -c /config)" -ge $want ]' || fail "no $want configs: $(ha_configs)"
    ha_configs >"$T/configs.txt"
    python3 - "$T/configs.txt" "$BASE" <<'PY' || fail "discovery configs wrong: $(cat "$T/configs.txt")"
import json, sys
base = sys.argv[2]
want = {"pin.0": "sensor", "pin.1": "number", "lamp": "switch", "estop": "binary_sensor",
        "count": "sensor"}
seen, uids = {}, set()
for line in open(sys.argv[1]):
    topic, payload = line.rstrip("\n").split(" ", 1)
    c = json.loads(payload)                       # well-formed JSON, or this raises
    parts = topic.split("/")
    assert len(parts) == 5 and parts[0] == "homeassistant" and parts[4] == "config", topic
    comp, node = parts[1], parts[2]
    assert node == "m1", topic
    name = c["name"]
    assert name not in seen, "two configs for " + name
    seen[name] = comp
    assert c["unique_id"] not in uids, c["unique_id"]
    uids.add(c["unique_id"])
    assert c["state_topic"] == f"{base}/pin/{name}", c
    d = c["device"]
    assert d["identifiers"] == ["m1"] and d["name"] == "m1", d
    assert d["manufacturer"] == "hal-microkernel" and d["model"] == "hal-microkernel", d
    (a,) = c["availability"]
    assert a["topic"] == f"{base}/status", a
    assert a["payload_available"] == "online" and a["payload_not_available"] == "offline", a
    if comp in ("switch", "binary_sensor"):
        assert c["payload_on"] == "TRUE" and c["payload_off"] == "FALSE", c
    if comp in ("switch", "number"):
        assert c["command_topic"] == f"{base}/pin/{name}/set", c
        assert c.get("retain") is False, c
    else:
        assert "command_topic" not in c, c
    if comp == "number":
        assert c["min"] < -1e6 and c["max"] > 1e6, c
assert seen == want, f"components {seen}, want {want}"
PY
    # the controls write through the grant, with the payloads HA sends
    local lamp_set num_set
    lamp_set=$(grep '/switch/m1/lamp/' "$T/configs.txt" | cut -d' ' -f2- | python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["command_topic"], c["payload_on"])')
    pub -t "${lamp_set% *}" -m "${lamp_set#* }"
    wait_for 10 "lamp on through the switch" out_is lamp TRUE
    num_set=$(grep '/number/m1/pin_1/' "$T/configs.txt" | cut -d' ' -f2- | python3 -c 'import json,sys; print(json.load(sys.stdin)["command_topic"])')
    pub -t "$num_set" -m 2.5
    wait_for 10 "pin.1 2.5 through the number" out_is pin.1 2.5
    wait_for 10 "lamp TRUE published back" last_is lamp TRUE
    # the ungranted pin.0 is a sensor only: its /set is refused and writes nothing
    pub -t "$BASE/pin/pin.0/set" -m 3
    wait_for 10 "refusal for pin.0" errors_ge 1
    out_is pin.0 0 || fail "pin.0 written: $(out_of pin.0)"
    # HA restarted: "online" on its status topic brings every config again
    mosquitto_sub -h 127.0.0.1 -p "$PORT" -t 'homeassistant/+/+/+/config' -v >"$T/ha.log" 2>&1 &
    local hpid=$!
    XPIDS+=" $hpid"
    within 10 eval '[ "$(grep -c /config "$T/ha.log")" -ge $want ]' || { kill $hpid; fail "retained configs not delivered"; }
    pub -t homeassistant/status -m online
    within 10 eval '[ "$(grep -c /config "$T/ha.log")" -ge $((2 * want)) ]' || { kill $hpid; fail "configs not republished on HA online: $(cat "$T/ha.log")"; }
    kill $hpid
    echo "ha_discovery: 5 configs (2 sensors, binary_sensor, switch, number) valid; switch and number write; republished on HA online"
}
