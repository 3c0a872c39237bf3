#!/bin/bash
. "$(dirname "$0")/../lib.sh"

# Silent peers filling the client table are evicted once they had their
# grace time (5 s), so the socket stays usable.
t_ctl_flood() {
    conf "[service a]
exec = $SVC a run"
    start_daemon
    local out
    # a request cut short by EOF still gets its one error line
    out=$(python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[1])
s.sendall(b"status"); s.shutdown(socket.SHUT_WR); print(s.recv(200).decode(), end="")' "$SOCK")
    [ "$out" = "$(printf 'error\trequest must end with a newline')" ] || fail "EOF mid-request: '$out'"
    # the flood holds until told to let go (or 10 min): however long the
    # wait below takes, the status must get through with the flood there
    python3 - "$SOCK" "$T/flooded" "$T/release" <<'PY' &
import os, socket, sys, time
conns = []
for i in range(40):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    conns.append(s)
open(sys.argv[2], "w").close()
end = time.monotonic() + 600
while not os.path.exists(sys.argv[3]) and time.monotonic() < end:
    time.sleep(0.05)
PY
    local fl=$!
    wait_for 5 "flood connected" test -e "$T/flooded"
    # the table is full of silent peers now: refused at first ...
    out=$(ctl status a 2>&1) && fail "not flooded: $out"
    echo "$out" | grep -q busy || fail "flooded answer: $out"
    # ... and after the grace time a new request gets through
    wait_for 15 "status through the flood" eval 'ctl status a 2>/dev/null | grep -q running'
    kill -0 $fl 2>/dev/null || fail "the flood ended before the status got through"
    touch "$T/release"; wait $fl 2>/dev/null
    stop_daemon
}

it_main
