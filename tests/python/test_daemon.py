"""The example Python service (services/coolant-follow) supervised by the
real daemon against a fake region: ready, connected (the daemon's
heartbeat), follows its pin, restarted after SIGKILL, clean SIGTERM.
The same under a real HAL: tests/python/hal/."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import halmk
from conftest import BIN, DEADLINE, within

SRC = os.path.join(os.path.dirname(__file__), "..", "..")
CF = os.path.abspath(os.path.join(SRC, "services", "coolant-follow", "coolant-follow"))
DAEMON = os.path.join(BIN, "daemon", "hal-microkernel")
CTL = os.path.join(BIN, "daemon", "hal-microkernelctl")


@pytest.fixture
def daemon(fake, tmp_path):
    sock = str(tmp_path / "ctl.sock")
    ini = tmp_path / "d.ini"
    # an ASan build: ASan's runtime goes first into the service's Python too
    env = "".join("env = %s=%s\n" % (k, os.environ[k]) for k in ("LD_PRELOAD", "ASAN_OPTIONS")
                  if os.environ.get(k))
    ini.write_text(
        "[daemon]\nregion = %s\ncontrol-socket = %s\nheartbeat-period = 100ms\nlog-level = info\n\n"
        "[service coolant-follow]\nexec = %s %s --at-speed pin.0 --coolant pin.1 --on-delay 0.1\n"
        "ready = fd\nrestart = always\nbackoff-initial = 100ms\nenv = PYTHONPATH=%s\n%swrites = pin.1\n"
        % (fake.name, sock, sys.executable, CF, os.path.dirname(halmk.__file__), env))
    subprocess.run([DAEMON, "-n", "-c", str(ini)], check=True, capture_output=True)
    log = open(tmp_path / "daemon.log", "w")
    d = subprocess.Popen([DAEMON, "-c", str(ini)], stderr=log)

    def status():
        out = ctl("--json", "status", "coolant-follow")
        return json.loads(out.stdout)[0] if out.returncode == 0 else {}
    def ctl(*args):
        return subprocess.run([CTL, "-s", sock, *args], capture_output=True, text=True)
    try:
        yield status, ctl
    finally:
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            d.kill()
            d.wait()
        log.close()


def idle_cost(pid, seconds):
    """CPU ticks and voluntary wake-ups of pid over seconds of wall time."""
    def sample():
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/%d/status" % pid) as f:
            wakes = [int(l.split()[1]) for l in f if l.startswith("voluntary_ctxt_switches")][0]
        return int(fields[11]) + int(fields[12]), wakes
    t0, w0 = sample()
    time.sleep(seconds)  # the measurement window, not a wait for a condition
    t1, w1 = sample()
    return t1 - t0, w1 - w0


def running(status, old_pid=0):
    s = status()
    return s.get("state") == "running" and s.get("pid", 0) > 0 and s["pid"] != old_pid


def test_python_service_under_the_daemon(fake, daemon):
    status, ctl = daemon
    assert within(DEADLINE, lambda: running(status)), status()
    pid = status()["pid"]
    with halmk.open(fake.name, readonly=True) as r:
        assert within(DEADLINE, lambda: r.connected), "daemon heartbeat not seen"

        def follows(v):
            fake.set_in(0, v)
            assert within(DEADLINE, lambda: r.read_out("pin.1") == v), r.read_out("pin.1")
        follows(1.0)
        follows(0.0)
        ticks, wakes = idle_cost(pid, 3.0)
        assert ticks <= 3 and wakes <= 3, "idle Python service: %d ticks, %d wake-ups in 3 s" % (ticks, wakes)
        os.kill(pid, signal.SIGKILL)
        assert within(DEADLINE, lambda: running(status, pid)), status()
        assert status()["restarts"] >= 1
        follows(1.0)
        # SIGTERM from the daemon: on_stop switches coolant off, exit 0
        assert ctl("stop", "coolant-follow").returncode == 0
        assert within(DEADLINE, lambda: status().get("state") == "stopped"), status()
        assert status()["last_exit"] == "exited 0"
        assert r.read_out("pin.1") == 0.0
