"""halmk.Service (hmk_svc_run) in a child process against a fake region:
handlers, readiness to the daemon, clean SIGTERM, exceptions, stop()."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import halmk
from conftest import DEADLINE, within

SCRIPT = textwrap.dedent("""
    import sys, halmk
    out = open(sys.argv[2], "a", buffering=1)

    class Watch(halmk.Service):
        def on_attach(self):
            out.write("attach connected=%s\\n" % self.connected)
        def on_change(self, pin, value, cycle):
            out.write("change %s %r %s\\n" % (pin, value, self[pin]))
            if value == 99.0:
                raise RuntimeError("handler failed on purpose")
            if value == 42.0:
                self.stop()
        def on_stop(self):
            out.write("stop\\n")

    try:
        Watch("watch", reads=["pin.1", "pin.2"], region=sys.argv[1]).run()
    except RuntimeError as e:
        out.write("raised %s\\n" % e)
        sys.exit(3)
    out.write("returned\\n")
""")


class Child:
    def __init__(self, tmp_path, region):
        self.log = tmp_path / "svc.log"
        self.log.write_text("")
        rfd, wfd = os.pipe()
        env = dict(os.environ, HMK_READY_FD=str(wfd))
        self.p = subprocess.Popen([sys.executable, "-c", SCRIPT, region, str(self.log)],
                                  env=env, pass_fds=(wfd,))
        os.close(wfd)
        self.ready = os.fdopen(rfd, "rb")

    def lines(self):
        return self.log.read_text().splitlines()

    def wait_line(self, line):
        assert within(DEADLINE, lambda: line in self.lines()), (line, self.lines())


def test_service_runs_handlers_and_stops_on_sigterm(fake, tmp_path):
    fake.set_in(2, 7.0)
    c = Child(tmp_path, fake.name)
    assert c.ready.read() == b"READY=1\n"  # written once, then the fd closed
    c.wait_line("change pin.2 7.0 7.0")
    assert c.lines()[:3] == ["attach connected=False", "change pin.1 0.0 0.0",
                             "change pin.2 7.0 7.0"]
    fake.set_in(1, 3.5)
    c.wait_line("change pin.1 3.5 3.5")
    fake.set_in(0, 1.0)  # not watched
    c.p.send_signal(signal.SIGTERM)
    assert c.p.wait(DEADLINE) == 0
    assert c.lines()[-2:] == ["stop", "returned"]
    assert not any("pin.0" in line for line in c.lines())


def test_service_stop_from_handler(fake, tmp_path):
    c = Child(tmp_path, fake.name)
    c.wait_line("change pin.2 0.0 0.0")
    fake.set_in(1, 42.0)
    assert c.p.wait(DEADLINE) == 0
    assert c.lines()[-2:] == ["stop", "returned"]


def test_handler_exception_propagates(fake, tmp_path):
    c = Child(tmp_path, fake.name)
    c.wait_line("change pin.2 0.0 0.0")
    fake.set_in(2, 99.0)
    assert c.p.wait(DEADLINE) == 3
    assert c.lines()[-1] == "raised handler failed on purpose"


def test_service_errors_name_the_pin(fake):
    s = halmk.Service("bad", reads=["nosuch"], region=fake.name)
    with pytest.raises(halmk.Error, match="nosuch"):
        s.run()
    with pytest.raises(RuntimeError, match="inside a handler"):
        s["nosuch"]
    with pytest.raises(TypeError, match="reads must be pin names"):
        halmk.Service("bad", reads=[1])
    with pytest.raises(TypeError, match="on_change must be callable"):
        halmk.Service("bad", on_change=3)
    s = halmk.Service("p", period=0.25)
    assert s.period == 0.25 and not s.running
    s.period = None
    assert s.period is None


def test_service_with_callables(fake):
    """handlers as arguments get the service first; run() in-process puts
    Python's own SIGINT handler back afterwards."""
    seen = []

    def on_change(svc, pin, value, cycle):
        seen.append((pin, value, svc[pin]))
        svc.stop()

    before = signal.getsignal(signal.SIGINT)
    fake.set_in(3, 1.25)
    halmk.Service("cb", reads=["pin.3"], region=fake.name, on_change=on_change).run()
    assert seen == [("pin.3", 1.25, 1.25)]
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)  # Python's handler is back in charge


def test_queue_roundtrip():
    name = "hmkpy%d" % os.getpid()
    halmk.queue_create(name, 4, 32)
    try:
        with halmk.Queue(name) as q:
            q.send(b"hello")
            q.send(bytearray(b"world"), timeout=0)
            assert q.stats()["queued"] == 2 and q.stats()["msg_size"] == 32
            assert q.recv() == b"hello" and q.recv(timeout=1) == b"world"
            with pytest.raises(halmk.Timeout):
                q.recv(timeout=0.01)
            with pytest.raises(halmk.Error) as e:
                q.recv(timeout=0)
            assert e.value.errno == 11
            with pytest.raises(ValueError, match="at most 32"):
                q.send(b"x" * 33)
            with pytest.raises(TypeError):
                q.send("text is not bytes")
        with pytest.raises(ValueError, match="closed queue"):
            q.recv()
    finally:
        halmk.queue_unlink(name)
    with pytest.raises(halmk.NotFound):
        halmk.Queue(name)
