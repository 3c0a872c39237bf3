# t_checkha - -n checks the discovery and state options: a bad value is
# one error line naming it and exit 2; good ones pass. The whole line is
# matched: a fail() inside $(one_line_error) only leaves the subshell, and
# its message would name the option too.
t_checkha() {
    "$RTOOL" create "$REGION" 4 || fail region
    export HAL_MICROKERNEL_REGION=$REGION
    "$GW" -n --ha-discovery --state-interval 250 >"$T/ok.txt" 2>&1 || fail "good options refused: $(cat "$T/ok.txt")"
    "$GW" -n --ha-discovery=ha/shop --ha-remove >"$T/ok.txt" 2>&1 || fail "prefix refused: $(cat "$T/ok.txt")"
    local e
    e=$(one_line_error 2 "$GW" -n --ha-discovery='ha/#'); [[ $e == "mqtt-gateway: --ha-discovery 'ha/#'"* ]] || fail "prefix: $e"
    e=$(one_line_error 2 "$GW" -n --ha-discovery=); [[ $e == "mqtt-gateway: --ha-discovery ''"* ]] || fail "empty prefix: $e"
    e=$(one_line_error 2 "$GW" -n --ha-remove); [[ $e == "mqtt-gateway: --ha-remove needs --ha-discovery" ]] || fail "remove alone: $e"
    e=$(one_line_error 2 "$GW" -n --state-interval 0); [[ $e == "mqtt-gateway: --state-interval: '0' "* ]] || fail "interval 0: $e"
    e=$(one_line_error 2 "$GW" -n --state-interval 1s); [[ $e == "mqtt-gateway: --state-interval: '1s' "* ]] || fail "interval 1s: $e"
    e=$(one_line_error 2 "$GW" -n --state-interval); [[ $e == "mqtt-gateway: option '--state-interval' needs a value" ]] || fail "interval missing: $e"
    echo "checkha: discovery and state options checked by -n"
}
