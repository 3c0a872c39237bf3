#!/usr/bin/env python3
"""slowclient.py HOST PORT SECONDS: one client opens the event stream
with a tiny receive buffer and never reads; a second reads the stream and
counts frames per second. Passes if the reader kept at least 10 frames/s in
every second while the stalled one was connected and after, and the
server closed the stalled one's stream."""
import socket, sys, time

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
# the server must have dropped the stalled client: behind what its buffers
# hold, its stream ends
stalled.settimeout(10)
try:
    while stalled.recv(1 << 20):
        pass
except OSError as e:
    print("stalled client: stream not closed by the server:", e)
    sys.exit(1)
print("stalled client: dropped by the server")
