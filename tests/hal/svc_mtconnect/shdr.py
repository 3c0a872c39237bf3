#!/usr/bin/python3
"""An SHDR client for the svc_mtconnect HAL test, independent of the adapter.
  shdr.py watch PORT FILE   connect, send * PING, append every line to FILE
  shdr.py get FILE KEY      the latest value of KEY (a condition: its level)
  shdr.py order FILE        exit 1 unless time stamps never go back
  shdr.py age FILE KEY      seconds between KEY's latest time stamp and now
"""
import calendar, socket, sys, time


def watch(port, path):
    s = socket.create_connection(("127.0.0.1", int(port)))
    s.sendall(b"* PING\n")
    with open(path, "ab", buffering=0) as f:
        while True:
            d = s.recv(65536)
            if not d:
                return
            f.write(d)


def entries(path):
    """(time stamp, key, value) for every complete data line."""
    with open(path) as f:
        text = f.read()
    for ln in text.split("\n")[:-1]:
        if ln.startswith("*"):
            continue
        fl = ln.split("|")
        if len(fl) == 7 and not fl[1] in ("avail",) and fl[2] in ("NORMAL", "FAULT", "WARNING", "UNAVAILABLE") and fl[1] == "spindle":
            yield fl[0], fl[1], fl[2]
            continue
        for k, v in zip(fl[1::2], fl[2::2]):
            yield fl[0], k, v


def main():
    cmd = sys.argv[1]
    if cmd == "watch":
        watch(sys.argv[2], sys.argv[3])
    elif cmd == "get":
        val = ""
        for _, k, v in entries(sys.argv[2]):
            if k == sys.argv[3]:
                val = v
        print(val)
    elif cmd == "order":
        ts = [t for t, _, _ in entries(sys.argv[2])]
        sys.exit(0 if ts == sorted(ts) else 1)
    elif cmd == "age":
        t = [t for t, k, _ in entries(sys.argv[2]) if k == sys.argv[3]][-1]
        sec = calendar.timegm(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) + int(t[20:23]) / 1000
        print("%.3f" % (time.time() - sec))


main()
