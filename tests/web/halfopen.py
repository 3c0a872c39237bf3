#!/usr/bin/env python3
"""halfopen.py HOST PORT N SECONDS STATUS_URL: opens N connections that
send half a request and then nothing; while they are open, asks STATUS_URL
until it answers; then waits until the server has answered or dropped
every one of them. All within SECONDS. Exit 1 on the deadline."""
import selectors, socket, sys, threading, time, urllib.request

host, port, n, secs, url = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
t0 = time.monotonic()
deadline = t0 + secs
sel = selectors.DefaultSelector()
for i in range(n):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((host, port))
    sel.register(s, selectors.EVENT_WRITE, "connecting")
served = []

def probe():
    time.sleep(0.5)
    while time.monotonic() < deadline:
        try:
            t1 = time.monotonic()
            urllib.request.urlopen(url, timeout=10).read()
            served.append(time.monotonic() - t1)
            return
        except Exception:
            time.sleep(0.1)

th = threading.Thread(target=probe)
th.start()
left, sent = n, 0
while left and time.monotonic() < deadline:
    for key, ev in sel.select(timeout=0.5):
        s = key.fileobj
        if key.data == "connecting":
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                try:
                    s.send(b"GET /api/pins HTTP/1.1\r\nHost: x\r\n")
                    sent += 1
                except OSError:
                    pass
            sel.modify(s, selectors.EVENT_READ, "waiting")
        else:
            try:
                s.recv(4096)  # an error reply, or b"" when closed: either ends it
            except OSError:
                pass
            sel.unregister(s)
            s.close()
            left -= 1
th.join()
if not served:
    print("status not answered within %.0f s while %d half-open connections were open" % (secs, n))
    sys.exit(1)
print("with %d half-open connections (%d sent half a request), /api/status answered in %.2f s" % (n, sent, served[0]))
if left:
    print("%d of %d half-open connections still open after %.0f s" % (left, n, secs))
    sys.exit(1)
print("all %d half-open connections answered or dropped after %.1f s" % (n, time.monotonic() - t0))
