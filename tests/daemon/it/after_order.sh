#!/bin/bash
. "$(dirname "$0")/../lib.sh"

t_after_order() {
    conf "[service c]
exec = $SVC c ready 50
ready = fd
after = b
[service a]
exec = $SVC a ready 50
ready = fd
[service b]
exec = $SVC b ready 50
ready = fd
after = a"
    start_daemon
    wait_for 10 "c ready" count_ge ready c 1
    local order
    order=$(awk '$1=="start"||$1=="ready"{printf "%s-%s ", $1, $2}' "$LOG")
    [ "$order" = "start-a ready-a start-b ready-b start-c ready-c " ] || fail "start order: $order"
    stop_daemon
    order=$(awk '$1=="stop"{printf "%s ", $2}' "$LOG")
    [ "$order" = "c b a " ] || fail "stop order: $order"
}

it_main
