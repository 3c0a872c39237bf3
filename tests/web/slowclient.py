#!/usr/bin/env python3
"""slowclient.py HOST PORT SECONDS: one client opens the event stream
with a tiny receive buffer and never reads; a second reads the stream and
counts frames per second. Passes if the reader kept at least 10 frames/s in
every second while the stalled one was connected and after, and the
server dropped the stalled one: /api/status counts it within DEADLINE s
and its stream then ends (EOF) within DEADLINE s of draining it. Every
check ends with a FAIL line of its own, never by the caller's timeout: a
server that keeps the stalled client would otherwise stream to it for
ever once it is drained."""
import json, socket, sys, time, urllib.request

DEADLINE = 30.0  # generous: a loaded 2-vCPU VM; the drop takes ~1 s

host, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
req = b"GET /api/events HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host.encode(), port)
stalled = socket.socket()
stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
stalled.connect((host, port))
stalled.send(req)
reader = socket.create_connection((host, port))
reader.send(req)
reader.settimeout(2)
buf, frames, per_sec = b"", 0, []
t0 = time.monotonic()
sec_end = t0 + 1
while time.monotonic() < t0 + secs:
    try:
        d = reader.recv(1 << 20)
    except socket.timeout:
        d = None
    if d == b"":
        print("the server closed the reader's stream")
        sys.exit(1)
    if d:
        buf += d
    while b"\n\n" in buf:
        ev, buf = buf.split(b"\n\n", 1)
        if ev.startswith(b"event: delta") or ev.startswith(b"event: snapshot"):
            frames += 1
    if time.monotonic() >= sec_end:
        per_sec.append(frames)
        frames = 0
        sec_end += 1
print("reader frames per second:", per_sec)
low = [f for f in per_sec[1:] if f < 10]
if low:
    print("reader starved while a client stalled:", per_sec)
    sys.exit(1)


def dropped():
    url = "http://%s:%d/api/status" % (host, port)
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)["dropped"]


# the server must have dropped the stalled client (still stalled: it has
# not read a byte), and counted it
end = time.monotonic() + DEADLINE
while dropped() < 1:
    if time.monotonic() > end:
        print("FAIL: stalled client: not dropped %.0f s after the reader's %.0f s "
              "(/api/status dropped = 0)" % (DEADLINE, secs))
        sys.exit(1)
    time.sleep(0.1)
# behind what the socket buffers hold, its stream must end: a server that
# only counted it and kept writing would stream on for ever
stalled.settimeout(5)
got, end = 0, time.monotonic() + DEADLINE
try:
    while True:
        d = stalled.recv(1 << 20)
        if not d:
            break
        got += len(d)
        if time.monotonic() > end:
            print("FAIL: stalled client: its stream did not end within %.0f s of draining "
                  "it (%d bytes so far): counted as dropped but still served" % (DEADLINE, got))
            sys.exit(1)
except OSError as e:
    if not isinstance(e, ConnectionResetError):
        print("FAIL: stalled client: stream neither closed nor reset by the server:", e)
        sys.exit(1)
print("stalled client: dropped by the server (%d buffered bytes, then closed)" % got)
