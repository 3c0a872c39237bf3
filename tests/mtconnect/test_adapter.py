#!/usr/bin/env python3
"""Integration tests of mtconnect-adapter against a fake region
(mtc-fake-region) with raw TCP clients written here, modelled on what
cppagent does: connect, read the snapshot, PING, follow changes.

Nothing here reuses the adapter's code: the SHDR client is its own.
Environment: HMK_BIN (build dir), HMK_SRC; MTC_VALGRIND=1 runs the adapter
under valgrind (deadlines stay: they are generous).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import calendar

BIN = os.environ["HMK_BIN"]
ADAPTER = os.path.join(BIN, "services", "mtconnect-adapter")
FAKE = os.path.join(BIN, "tests", "mtconnect", "mtc-fake-region")
REGION = "mtc-test-%d" % os.getpid()
DEADLINE = 60.0 if os.environ.get("MTC_VALGRIND") else 30.0
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PINS = "estop:bit,mode:s32,speed:float,fault:bit,count:u32,out1:float:out"

MAPPING = """\
# test mapping
[adapter]
listen = 127.0.0.1:0
device = mill
uuid = mill-test-1
availability = {avail}
heartbeat-ms = 1500
client-buffer = 16384
max-clients = {maxc}

[event estop]
pin = estop
type = EMERGENCY_STOP
map = 0=ARMED 1=TRIGGERED

[event mode]
pin = mode
type = CONTROLLER_MODE
map = 1=MANUAL 2=AUTOMATIC 3=MANUAL_DATA_INPUT
default = UNAVAILABLE

[sample Sspeed]
pin = speed
type = ROTARY_VELOCITY
units = REVOLUTION/MINUTE
deadband = 0.5

[event parts]
pin = count
type = PART_COUNT

[condition spindle]
pin = fault
type = SYSTEM
native-code = SP1
text = spindle drive fault
"""
KEYS = ["avail", "estop", "mode", "Sspeed", "parts", "spindle"]

failures = []
tmp = tempfile.mkdtemp(prefix="mtc-test-")


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def fake(*args):
    subprocess.run([FAKE] + list(args), check=True)


def within(pred, secs=DEADLINE, step=0.02):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        r = pred()
        if r:
            return r
        time.sleep(step)
    return pred()


class Adapter:
    def __init__(self, avail="attached", maxc=8, extra=""):
        self.cfg = os.path.join(tmp, "map-%s-%d.ini" % (avail, maxc))
        with open(self.cfg, "w") as f:
            f.write(MAPPING.format(avail=avail, maxc=maxc) + extra)
        self.log = os.path.join(tmp, "adapter-%d.log" % time.monotonic_ns())
        cmd = [ADAPTER, "-c", self.cfg]
        if os.environ.get("MTC_VALGRIND"):
            cmd = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite"] + cmd
        env = dict(os.environ, HAL_MICROKERNEL_REGION=REGION)
        self.p = subprocess.Popen(cmd, stderr=open(self.log, "w"), env=env)
        m = within(lambda: re.search(r"listening on 127\.0\.0\.1:(\d+)", self.text()))
        assert m, "adapter did not listen: " + self.text()
        self.port = int(m.group(1))

    def text(self):
        with open(self.log) as f:
            return f.read()

    def wait_log(self, pattern):
        return within(lambda: re.search(pattern, self.text()))

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "hung"
        return rc


class Client:
    """A minimal SHDR consumer: lines in, commands out."""

    def __init__(self, port, rcvbuf=None):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.connect(("127.0.0.1", port))
        self.buf = b""
        self.lines = []

    def send(self, data):
        self.s.sendall(data)

    def pump(self, timeout):
        self.s.settimeout(timeout)
        try:
            d = self.s.recv(65536)
        except socket.timeout:
            return True
        except OSError:
            return False
        if not d:
            return False
        self.buf += d
        *done, self.buf = self.buf.split(b"\n")
        self.lines += [x.decode() for x in done]
        return True

    def until(self, pred, secs=DEADLINE):
        """Reads until pred(lines) is true; returns it (or None)."""
        end = time.monotonic() + secs
        while time.monotonic() < end:
            r = pred(self.lines)
            if r:
                return r
            if not self.pump(0.2):
                return pred(self.lines)
        return pred(self.lines)

    def closed(self, secs=DEADLINE):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            if not self.pump(0.2):
                return True
        return False

    def close(self):
        self.s.close()


def state(lines):
    """key -> latest value (conditions: the five fields), as an agent sees it."""
    st = {}
    for ln in lines:
        if ln.startswith("*"):
            continue
        f = ln.split("|")
        if f[1] == "spindle":
            st["spindle"] = "|".join(f[2:7])
            continue
        for i in range(1, len(f) - 1, 2):
            st[f[i]] = f[i + 1]
    return st


def has(key, value):
    return lambda lines: state(lines).get(key) == value


def snapshot_done(lines):
    return len([k for k in KEYS if k in state(lines)]) == len(KEYS)


# ---------------------------------------------------------------- tests

def test_bad_config():
    head = "[adapter]\nlisten = 127.0.0.1:0\n"
    cases = [
        ("[adapter]\nport = 7\n", "map.ini:2: unknown setting 'port' in [adapter]"),
        ("[event e]\npin = estop\ntype = X\nmap = 0=A 0=B\n", "map.ini:4: map: 0 given twice"),
        (head + "[condition c]\npin = speed\ntype = SYSTEM\n",
         "map.ini:3: [c] pin 'speed' is float: a condition needs a bit pin"),
        (head + "[event e]\npin = nosuch\ntype = X\n",
         "map.ini:3: [e] pin 'nosuch': no such pin in region"),
        (head + "[sample s]\npin = out1\ntype = X\n", "map.ini:3: [s] pin 'out1' is an out pin"),
        (head + "[event e]\npin = speed\ntype = X\nmap = 0=A\n",
         "map.ini:3: [e] pin 'speed' is float: a map needs a bit, s32 or u32 pin"),
    ]
    env = dict(os.environ, HAL_MICROKERNEL_REGION=REGION)
    for text, msg in cases:
        path = os.path.join(tmp, "map.ini")
        with open(path, "w") as f:
            f.write(text)
        for args in (["-n", "-c", "map.ini"], ["-c", "map.ini"]):
            r = subprocess.run([ADAPTER] + args, cwd=tmp, env=env, capture_output=True,
                               text=True, timeout=DEADLINE)
            lines = r.stderr.strip().split("\n")
            check(r.returncode != 0 and len(lines) == 1 and msg in lines[0],
                  "bad config %r %s: one error line naming FILE:LINE (%s)"
                  % (text.split("\n")[-3], args[0], r.stderr.strip()))
    r = subprocess.run([ADAPTER, "-c", "/nonexistent.ini"], capture_output=True, text=True)
    check(r.returncode == 1 and r.stderr.strip() ==
          "mtconnect-adapter: /nonexistent.ini: No such file or directory", "missing file")
    r = subprocess.run([ADAPTER, "--bogus"], capture_output=True, text=True)
    check(r.returncode == 2 and "unknown option '--bogus'" in r.stderr, "unknown option")


def test_check_and_devices():
    a_cfg = os.path.join(tmp, "ok.ini")
    with open(a_cfg, "w") as f:
        f.write(MAPPING.format(avail="daemon", maxc=8))
    env = dict(os.environ, HAL_MICROKERNEL_REGION=REGION)
    r = subprocess.run([ADAPTER, "-n", "-c", a_cfg], env=env, capture_output=True, text=True)
    check(r.returncode == 0 and "OK: 5 data items, pins checked against region" in r.stdout,
          "-n accepts a good mapping and checks its pins: " + r.stdout.strip())
    r = subprocess.run([ADAPTER, "--dump-devices", tmp, "-c", a_cfg], capture_output=True,
                       text=True)
    check(r.returncode == 0, "--dump-devices runs")
    xml = os.path.join(tmp, "Devices.xml")
    r = subprocess.run(["xmllint", "--noout", xml], capture_output=True, text=True)
    check(r.returncode == 0, "Devices.xml is well-formed XML " + r.stderr.strip())
    text = open(xml).read()
    ids = set(re.findall(r'<DataItem [^>]*id="([^"]+)"', text))
    check(ids == set(KEYS), "every SHDR key has a DataItem and no other: %s" % sorted(ids))
    check('uuid="mill-test-1"' in text and "urn:mtconnect.org:MTConnectDevices:2.0" in text,
          "Device uuid and the MTConnectDevices 2.0 namespace")
    cfg = open(os.path.join(tmp, "agent.cfg")).read()
    check("Port = 0" in cfg or "Port =" in cfg, "agent.cfg snippet written")


def test_unavailable_before_hal(a):
    c = Client(a.port)
    ok = c.until(lambda l: all(has(k, v)(l) for k, v in
                               [("avail", "UNAVAILABLE"), ("estop", "UNAVAILABLE"),
                                ("spindle", "UNAVAILABLE||||")]))
    check(ok, "before HAL: snapshot says UNAVAILABLE for everything")
    check(c.lines[:2] == ["* shdrVersion: 2.0", "* uuid: mill-test-1"],
          "snapshot starts with the shdrVersion and uuid headers")
    return c


def test_snapshot_and_changes(a, early):
    fake("create", REGION, PINS)
    fake("set", REGION, "mode=2", "speed=1500", "count=7")
    check(early.until(has("Sspeed", "1500")) and has("avail", "AVAILABLE")(early.lines),
          "a client connected before HAL sees AVAILABLE and values after attach")
    c = Client(a.port)
    check(c.until(snapshot_done), "a new client gets every item in its snapshot")
    st = state(c.lines)
    want = {"avail": "AVAILABLE", "estop": "ARMED", "mode": "AUTOMATIC", "Sspeed": "1500",
            "parts": "7", "spindle": "NORMAL||||"}
    check(st == want, "snapshot values %s" % st)
    data = [ln for ln in c.lines if not ln.startswith("*")]
    check(all(TS.match(ln.split("|")[0]) for ln in data), "every line starts with a UTC time stamp")
    c.send(b"* PING\n")
    check(c.until(lambda l: "* PONG 1500" in l), "* PING is answered with * PONG <heartbeat-ms>")
    n0 = len(c.lines)
    t0 = time.time()
    fake("set", REGION, "estop=1", "speed=1200.25")
    check(c.until(lambda l: has("estop", "TRIGGERED")(l) and has("Sspeed", "1200.25")(l)),
          "changes arrive")
    new = [ln for ln in c.lines[n0:] if not ln.startswith("*")]
    check(len(new) == 1 and new[0].count("|") == 4,
          "two changes in one bridge cycle make one line: %s" % new)
    ts = time.mktime(time.strptime(new[0][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    check(abs(ts - t0) < 5, "the time stamp is the change's UTC time (%s)" % new[0][:24])
    stamps = [ln.split("|")[0] for ln in c.lines if not ln.startswith("*")]
    check(stamps == sorted(stamps), "time stamps never go back")
    n0 = len(c.lines)
    fake("set", REGION, "speed=1200.5")    # inside the deadband
    fake("set", REGION, "fault=1")
    check(c.until(has("spindle", "FAULT|SP1|||spindle drive fault")), "condition goes FAULT")
    check(not any("Sspeed" in ln for ln in c.lines[n0:]), "a change inside the deadband is not sent")
    fake("set", REGION, "fault=0", "mode=9")
    check(c.until(lambda l: has("spindle", "NORMAL||||")(l) and has("mode", "UNAVAILABLE")(l)),
          "condition back to NORMAL; an unmapped value gives the default")
    for cl in (c, early):
        cl.close()


def utc_ms(stamp):
    """SHDR time stamp -> UTC milliseconds."""
    secs = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
    return secs * 1000 + int(stamp[20:23])


def test_event_stamps(a):
    """Each line carries the UTC time of the bridge cycle in which HAL's value
    changed (the stamp its events carry), not the time of sending nor one
    estimated from the latest cycle: cycles stamped 1.5, 2.5 and 3.5 s ahead
    of now (so no earlier line's time clamps them), published back to back."""
    c = Client(a.port)
    c.until(snapshot_done)
    n0 = len(c.lines)
    out = subprocess.run([FAKE, "stamped", REGION, "1500:count=101", "2500:count=102",
                          "3500:count=103"], check=True, capture_output=True, text=True).stdout
    ref = {int(v): int(ms) for v, ms in zip((101, 102, 103), [ln.split()[1] for ln in out.split("\n") if ln])}
    check(c.until(has("parts", "103")), "stamped changes arrive")
    got = {}
    for ln in c.lines[n0:]:
        f = ln.split("|")
        if not ln.startswith("*") and len(f) == 3 and f[1] == "parts":
            got[int(f[2])] = utc_ms(f[0])
    print("     cycle UTC ms (bridge) vs line (adapter):",
          [(v, ref[v], got.get(v)) for v in sorted(ref)], flush=True)
    check(sorted(got) == [101, 102, 103], "one line per cycle: %s" % sorted(got))
    check(all(v in got and abs(got[v] - ref[v]) <= 1 for v in ref),
          "each line's time is its cycle's bridge stamp in UTC, to the ms")
    check([got.get(v) for v in sorted(got)] == sorted(got.values()), "line times in cycle order")
    c.close()


def test_slow_client(a):
    fast = Client(a.port)
    slow = Client(a.port, rcvbuf=4096)
    fast.until(snapshot_done)
    t0 = time.monotonic()
    # ~35 bytes per change, 5000 of them at 10 kHz (ten times a 1 ms servo
    # thread's worst): far more than client-buffer (16 KiB) + socket buffers
    ramp = subprocess.Popen([FAKE, "ramp", REGION, "count", "5000", "100"],
                            stdout=subprocess.DEVNULL)
    ok = fast.until(has("parts", "5000"))  # reading while the ramp runs
    ramp.wait()
    took = time.monotonic() - t0
    check(ok, "the fast client gets every change up to the last (%.2f s)" % took)
    check(a.wait_log(r"client 127\.0\.0\.1:%d: not reading \(\d+ bytes queued, client-buffer = 16384\); dropped"
                     % slow.s.getsockname()[1]),
          "the slow client is dropped with one log line")
    check(slow.closed(), "the slow client's connection is closed")
    vals = [int(v) for ln in fast.lines for k, v in
            zip(ln.split("|")[1::2], ln.split("|")[2::2]) if k == "parts"]
    vals = vals[vals.index(1):] if 1 in vals else vals  # after the snapshot's value
    gaps = [b for x, b in zip(vals, vals[1:]) if b != x + 1]
    check(vals[:1] == [1] and (not gaps or "fell" in a.text()),
          "the fast client saw the ramp in order (gaps only where the log says the stream "
          "was lost: %s)" % gaps[:5])
    fast.close()


def test_hostile(a):
    """Garbage from a client running as another uid: it is dropped, the
    adapter and a well-behaved client carry on."""
    good = Client(a.port)
    good.until(snapshot_done)
    attacks = [b"hello\n", b"\x00\x01\x02binary\n", b"A" * 400, b"* PING\n" * 1000 + b"junk\n",
               b"\xff\xfe\n"]
    code = ("import socket,sys\ns=socket.create_connection(('127.0.0.1',%d))\n"
            "s.sendall(bytes.fromhex(sys.argv[1]))\ns.settimeout(%d)\n"
            "try:\n  while s.recv(65536): pass\n  print('closed')\n"
            "except ConnectionResetError: print('closed')\nexcept Exception as e: print(e)\n")
    for atk in attacks:
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "/usr/bin/python3", "-c", code % (a.port, DEADLINE), atk.hex()],
                           capture_output=True, text=True, timeout=DEADLINE + 10)
        check(r.stdout.strip() == "closed", "hostile input %r...: connection dropped" % atk[:12])
    check(a.p.poll() is None, "the adapter survived")
    fake("set", REGION, "count=4242")
    check(good.until(has("parts", "4242")), "a good client still gets changes")
    good.send(b"* PING\n")
    check(good.until(lambda l: l.count("* PONG 1500") >= 1), "and PONGs")
    good.close()


def test_silent_agent(a):
    c = Client(a.port)
    c.until(snapshot_done)
    c.send(b"* PING\n")
    c.until(lambda l: "* PONG 1500" in l)
    t0 = time.monotonic()
    check(c.closed(), "an agent that stops pinging is dropped")
    check(time.monotonic() - t0 >= 2.5, "not before two heartbeat periods (%.1f s)"
          % (time.monotonic() - t0))
    check(a.wait_log("no PING for two heartbeat periods; dropped"), "with a log line")


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_fd_leak(a):
    pid = a.p.pid
    before = fds(pid)
    for i in range(100):
        c = Client(a.port)
        if i % 2:
            c.until(snapshot_done)
            c.send(b"* PING\n")
        c.close()
    check(within(lambda: fds(pid) == before), "100 connect/disconnect cycles leak no fd (%d -> %d)"
          % (before, fds(pid)))


def test_max_clients():
    a = Adapter(maxc=2)
    cs = [Client(a.port) for _ in range(2)]
    for c in cs:
        c.until(snapshot_done)
    extra = Client(a.port)
    check(extra.closed(), "a client over max-clients is closed")
    check(a.wait_log("refused, max-clients = 2"), "with a log line")
    for c in cs:
        c.close()
    check(a.stop() == 0, "clean stop")


def threads(a):
    return len(os.listdir("/proc/%d/task" % a.p.pid))


def test_detach_reattach(a):
    c = Client(a.port)
    c.until(snapshot_done)
    check(threads(a) == 2, "attached: one event loop plus libhalmk's change-fd thread (%d threads)"
          % threads(a))
    fake("detach", REGION)
    check(c.until(lambda l: has("avail", "UNAVAILABLE")(l) and has("Sspeed", "UNAVAILABLE")(l)
                  and has("spindle", "UNAVAILABLE||||")(l)),
          "region detached: AVAILABILITY and every item UNAVAILABLE")
    check(within(lambda: threads(a) == 1), "detached: the one event loop alone (inotify on /dev/shm)")
    fake("create", REGION, PINS)
    fake("set", REGION, "speed=99")
    check(c.until(lambda l: has("avail", "AVAILABLE")(l) and has("Sspeed", "99")(l)),
          "region back: AVAILABLE and values again")
    check(threads(a) == 2, "re-attached: still two threads (the old change-fd thread was joined)")
    c.close()


def test_daemon_availability():
    a = Adapter(avail="daemon")
    c = Client(a.port)
    check(c.until(has("avail", "UNAVAILABLE")), "availability = daemon: no heartbeat, UNAVAILABLE")
    check(has("Sspeed", "99")(c.lines) or c.until(has("Sspeed", "99")),
          "values are still HAL's while the daemon is away")
    fake("beat", REGION)
    check(c.until(has("avail", "AVAILABLE"), secs=5), "a fresh heartbeat: AVAILABLE")
    check(c.until(has("avail", "UNAVAILABLE"), secs=10),
          "heartbeat older than heartbeat_timeout_ms: UNAVAILABLE again")
    c.close()
    rc = a.stop()
    check(rc == 0 and "stopped" in a.text(), "SIGTERM: clean stop, exit 0 (%s)" % rc)


def main():
    subprocess.run([FAKE, "detach", REGION], stderr=subprocess.DEVNULL)
    adapters = []
    try:
        a = Adapter()
        adapters.append(a)
        early = test_unavailable_before_hal(a)
        test_snapshot_and_changes(a, early)
        test_event_stamps(a)
        test_bad_config()
        test_check_and_devices()
        test_slow_client(a)
        test_hostile(a)
        test_silent_agent(a)
        test_fd_leak(a)
        test_max_clients()
        test_detach_reattach(a)
        test_daemon_availability()
        rc = a.stop()
        check(rc == 0, "the adapter exits 0 on SIGTERM (%s)" % rc)
    finally:
        for a in adapters:
            if a.p.poll() is None:
                a.p.kill()
        subprocess.run([FAKE, "detach", REGION], stderr=subprocess.DEVNULL)
    if failures:
        print("adapter log:\n" + adapters[0].text())
        print("%d FAILED: %s" % (len(failures), failures))
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
