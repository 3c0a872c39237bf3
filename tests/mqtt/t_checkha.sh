# t_checkha - -n checks the discovery and state options: a bad value is
# one error line naming it and exit 2; good ones pass.
t_checkha() {
    "$RTOOL" create "$REGION" 4 || fail region
    export HAL_MICROKERNEL_REGION=$REGION
    "$GW" -n --ha-discovery --state-interval 250 >"$T/ok.txt" 2>&1 || fail "good options refused: $(cat "$T/ok.txt")"
    "$GW" -n --ha-discovery=ha/shop --ha-remove >"$T/ok.txt" 2>&1 || fail "prefix refused: $(cat "$T/ok.txt")"
    local e
    e=$(one_line_error 2 "$GW" -n --ha-discovery='ha/#'); [[ $e == *--ha-discovery*'ha/#'* ]] || fail "prefix: $e"
    e=$(one_line_error 2 "$GW" -n --ha-discovery=); [[ $e == *--ha-discovery* ]] || fail "empty prefix: $e"
    e=$(one_line_error 2 "$GW" -n --ha-remove); [[ $e == *--ha-remove* ]] || fail "remove alone: $e"
    e=$(one_line_error 2 "$GW" -n --state-interval 0); [[ $e == *--state-interval*"'0'"* ]] || fail "interval 0: $e"
    e=$(one_line_error 2 "$GW" -n --state-interval 1s); [[ $e == *--state-interval*1s* ]] || fail "interval 1s: $e"
    e=$(one_line_error 2 "$GW" -n --state-interval); [[ $e == *--state-interval* ]] || fail "interval missing: $e"
    echo "checkha: discovery and state options checked by -n"
}
