"""pinlog_check.py LOG CMD [ARG] - checks pinlog's files LOG.N .. LOG.1, LOG.

  values PIN     print PIN's values, oldest first, one per line
  contains FILE  the complete lines of FILE appear, contiguous and unchanged
  maxsize N      no file is larger than N bytes
  count          print the number of lines

Every command first checks every line of every file: a JSON object with
exactly the keys pinlog writes, a well-formed time, and a final newline.
Exits 1 with one line on stderr on any failure.
"""
import json, os, re, sys

KEYS = ["time", "mono_ns", "cycle", "pin", "type", "value"]
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TYPES = {"bit": bool, "float": (int, float, str), "s32": int, "u32": int, "lost": int}


def fail(msg):
    print("pinlog_check: " + msg, file=sys.stderr)
    sys.exit(1)


def files(log):
    rot = sorted((int(m.group(1)), f) for f in os.listdir(os.path.dirname(log) or ".")
                 for m in [re.match(re.escape(os.path.basename(log)) + r"\.(\d+)$", f)] if m)
    paths = [os.path.join(os.path.dirname(log), f) for _, f in reversed(rot)]
    return paths + ([log] if os.path.exists(log) else [])


def load(log):
    text, recs = "", []
    for path in files(log):
        data = open(path, "rb").read().decode()
        if data and not data.endswith("\n"):
            fail(f"{path}: does not end with a newline")
        for n, line in enumerate(data.splitlines(), 1):
            try:
                rec = json.loads(line)
            except ValueError as e:
                fail(f"{path}:{n}: not JSON ({e}): {line[:80]!r}")
            if list(rec) != KEYS or not TIME.match(rec["time"]) or rec["type"] not in TYPES \
                    or not isinstance(rec["value"], TYPES[rec["type"]]):
                fail(f"{path}:{n}: not a pinlog record: {line[:80]!r}")
        text += data
        recs += [json.loads(l) for l in data.splitlines()]
    return text, recs


def main():
    log, cmd = sys.argv[1], sys.argv[2]
    text, recs = load(log)
    if cmd == "values":
        for r in recs:
            if r["pin"] == sys.argv[3]:
                print(r["value"])
    elif cmd == "contains":
        snap = open(sys.argv[3]).read()
        snap = snap[: snap.rfind("\n") + 1]
        if snap not in text:
            fail(f"lines of {sys.argv[3]} ({len(snap)} bytes) are no longer in the log")
    elif cmd == "maxsize":
        for path in files(log):
            if os.path.getsize(path) > int(sys.argv[3]):
                fail(f"{path}: {os.path.getsize(path)} bytes > {sys.argv[3]}")
    elif cmd == "count":
        print(len(recs))
    else:
        fail("unknown command " + cmd)


main()
