# ha.sh - helpers for the Home Assistant and bulk-state tests (sourced by
# t_ha_*.sh and t_state.sh after run.sh's helpers).

# typed pins: the simulator under the name that adds lamp (bit out),
# estop (bit in) and count (s32 in) after the float slots pin.0, pin.1
# (indices 0..4 with 2 slots)
use_typed_region() {
    ln -s "$RTOOL" "$T/hmk-web-region"
    RTOOL=$T/hmk-web-region
    NSLOTS=2
}
start_typed() { # EXTRA WRITES
    broker_start || fail "broker"
    "$RTOOL" create "$REGION" "$NSLOTS" || fail "region"
    gateway_conf "$1" "${2:-none}"
    "$DAEMON" -n -c "$T/conf.ini" 2>>"$T/daemon.log" || fail "config check"
    "$DAEMON" -c "$T/conf.ini" 2>>"$T/daemon.log" &
    DPID=$!
    subscribe
    wait_for 10 "status online" sub_has "$BASE/status online"
}
# every retained discovery config now, as "topic payload" lines
ha_configs() {
    mosquitto_sub -h 127.0.0.1 -p "$PORT" -t 'homeassistant/#' -v -W 2 --retained-only 2>/dev/null
}
