#!/bin/bash
. "$(dirname "$0")/../lib.sh"

# Queues from the config: the daemon creates them and grants them; two
# services exchange 10^6 messages, none lost, duplicated or reordered; a
# service not named in the queue's section cannot open it, and a receiver
# cannot send; a ping-pong pair measures the round trip.
t_queue() {
    local q=$QNAME-data
    conf "[queue $q]
depth = 1024
size = 16
senders = tx
receivers = rx
[queue $QNAME-ping]
depth = 4
size = 16
senders = ping
receivers = pong
[queue $QNAME-pong]
depth = 4
size = 16
senders = pong
receivers = ping
[service tx]
exec = $QTOOL send $q 1000000
restart = no
[service rx]
exec = $QTOOL recv $q 1000000
restart = no
[service intruder]
exec = $QTOOL try $q
restart = no
[service pong]
exec = $QTOOL pong $QNAME-ping $QNAME-pong
restart = no
[service ping]
exec = $QTOOL ping $QNAME-ping $QNAME-pong 20000
restart = no
after = pong"
    "$DAEMON" -n -c "$T/conf.ini" >/dev/null 2>&1 || fail "config check: $("$DAEMON" -n -c "$T/conf.ini" 2>&1)"
    start_daemon
    wait_for 5 "queue created" test -e "/dev/shm/hmkq.$q"
    wait_for 60 "receiver done" grep -q "^qrecv $q " "$LOG"
    grep -qx "qsend $q 1000000 0" "$LOG" || fail "sender: $(grep "^qsend" "$LOG")"
    grep -qx "qrecv $q 1000000 0" "$LOG" || fail "receiver: $(grep "^qrecv" "$LOG")"
    wait_for 10 "intruder tried" grep -q "^qtry $q " "$LOG"
    grep -qx "qtry $q open -1 0" "$LOG" || fail "a service not granted the queue opened it: $(grep '^qtry' "$LOG")"
    wait_for 30 "ping done" grep -q "^qpingbad " "$LOG"
    grep -q "^qpingbad $QNAME-ping 0 0" "$LOG" || fail "ping-pong lost messages"
    echo "queue: 10^6 messages, none lost; round trip median/p99 us: $(awk '/^qping / { print $3 "/" $4 }' "$LOG")"
    stop_daemon
}

it_main
