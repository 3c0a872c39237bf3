"""Fixtures for the halmk tests without HAL: a fake region made by
tests/daemon/hmk-test-region (float slots pin.0 .. pin.N-1, as the bridge
lays them out), changed and detached from the test."""
import os
import subprocess
import time
import uuid

import pytest

BIN = os.environ.get("HMK_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
TOOL = os.path.join(BIN, "daemon", "hmk-test-region")
# time bounds widen in sanitized builds, as tests/daemon/lib.sh does
SLOW = 4 if os.environ.get("HMK_SANITIZED") else 1
DEADLINE = 30 * SLOW


class FakeRegion:
    def __init__(self, npins=4):
        self.name = "hmk-py-%d-%s" % (os.getpid(), uuid.uuid4().hex[:8])
        self.tool("create", self.name, str(npins))

    @staticmethod
    def tool(*args):
        subprocess.run([TOOL, *args], check=True)

    def set_in(self, idx, value):
        self.tool("set-in", self.name, str(idx), repr(float(value)))

    def detach(self):
        if os.path.exists("/dev/shm/" + self.name):
            self.tool("detach", self.name)

    def remove(self):
        for suffix in ("", ".waiters", ".stream", ".cmd"):
            try:
                os.unlink("/dev/shm/" + self.name + suffix)
            except FileNotFoundError:
                pass


@pytest.fixture
def fake():
    if not os.access(TOOL, os.X_OK):
        pytest.fail("no %s: build the tree first" % TOOL)
    f = FakeRegion()
    yield f
    f.remove()


def within(seconds, cond):
    """True as soon as cond() is, False once seconds passed (a deadline, not a sleep)."""
    end = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True
