"""halmk.Region against a fake region: the read side, waits, fileno,
errors. Writes and the stream need the bridge: tests/python/hal/."""
import asyncio
import os
import select
import threading
import time

import pytest

import halmk
from conftest import DEADLINE, within


def test_open_pins_mapping(fake):
    with halmk.open(fake.name) as r:
        assert r.name == fake.name
        assert len(r) == 4
        assert r.keys() == ["pin.0", "pin.1", "pin.2", "pin.3"]
        assert list(r) == r.keys()
        p = r.pins()[2]
        assert (p.name, p.type, p.dir, p.index, p.slot) == ("pin.2", "float", "io", 2, True)
        assert r.pin("microkernel.pin.2.out") == p  # HAL names resolve too
        assert r.pin(2) == p
        assert "pin.3" in r and "pin.9" not in r and 7 not in r
        assert fake.name in repr(r)
        assert not r.connected  # no daemon heartbeat in a fake region
        assert not r.stale and not r.closed
    assert r.closed
    with pytest.raises(ValueError, match="closed region"):
        r["pin.0"]
    r.close()  # idempotent


def test_read_and_snapshot(fake):
    fake.set_in(1, 2.5)
    fake.set_in(3, -7.25)
    with halmk.open(fake.name, readonly=True) as r:
        assert r["pin.1"] == 2.5 and r[1] == 2.5 and r["microkernel.pin.1.in"] == 2.5
        assert r.read_in("pin.3") == -7.25
        assert isinstance(r["pin.0"], float)
        snap = r.snapshot()
        assert snap == {"pin.0": 0.0, "pin.1": 2.5, "pin.2": 0.0, "pin.3": -7.25}
        cycle, snap2 = r.snapshot(with_cycle=True)
        # the fake bridge keeps cycling, as a real one does: cycles only move on
        assert snap2 == snap and 0 < cycle <= r.cycle <= r.stats()["cycle"]
        assert r.stats()["pin_count"] == 4


def test_wait_returns_changed_pins(fake):
    with halmk.open(fake.name, readonly=True) as r:
        with pytest.raises(halmk.Timeout) as e:
            r.wait(timeout=0.05)
        assert isinstance(e.value, TimeoutError) and e.value.errno == 110
        assert r.changed() == []
        fake.set_in(2, 1.0)
        assert r.wait(["pin.0", "pin.2"], timeout=DEADLINE) == ["pin.2"]
        fake.set_in(0, 1.0)
        fake.set_in(1, 1.0)
        assert r.wait(timeout=DEADLINE) == ["pin.0", "pin.1"]  # every in pin, both
        fake.set_in(3, 4.0)
        assert r.wait("pin.3", timeout=DEADLINE) == ["pin.3"]  # one name is fine too
        with pytest.raises(halmk.Timeout):
            r.wait("pin.3", timeout=0)  # seen already: the cursor moved on


def test_wait_releases_the_gil(fake):
    """A thread blocked in wait() must let the others run. With the GIL held
    the main loop below cannot count, and the waiter times out instead of
    seeing the change."""
    r = halmk.open(fake.name, readonly=True)
    result, started = [], threading.Event()

    def waiter():
        started.set()
        try:
            result.append(r.wait(["pin.0"], timeout=5))
        except Exception as e:  # noqa: BLE001 - reported by the assert below
            result.append(e)

    t = threading.Thread(target=waiter)
    t.start()
    assert started.wait(DEADLINE)
    count, end = 0, time.monotonic() + 0.5
    while time.monotonic() < end:
        count += 1
    assert t.is_alive(), "wait() returned without a change"
    fake.set_in(0, 3.0)
    t.join(DEADLINE)
    assert result == [["pin.0"]]
    assert count > 10000, "main thread counted %d while the other waited" % count
    r.close()


def blocked_in_futex(tid):
    """The thread sleeps in the futex system call (202 on x86-64)."""
    if not tid:
        return False
    with open("/proc/self/task/%d/syscall" % tid[0]) as f:
        return f.read().split()[0] == "202"


def test_close_while_another_thread_waits(fake):
    """close() from another thread never frees what a blocked wait uses."""
    r = halmk.open(fake.name, readonly=True)
    out, tid = [], []

    def waiter():
        tid.append(threading.get_native_id())
        out.append(r.wait(timeout=DEADLINE))
    t = threading.Thread(target=waiter)
    t.start()
    assert within(DEADLINE, lambda: blocked_in_futex(tid))
    r.close()
    assert r.closed
    fake.set_in(1, 1.0)
    t.join(DEADLINE)
    assert out == [["pin.1"]]


def test_fileno_select(fake):
    with halmk.open(fake.name, readonly=True) as r:
        fd = r.fileno()
        assert r.fileno() == fd
        assert select.select([fd], [], [], 0)[0] == []
        fake.set_in(3, 9.0)
        assert select.select([fd], [], [], DEADLINE)[0] == [fd]
        assert r.changed() == ["pin.3"]
        assert select.select([fd], [], [], 0)[0] == []  # changed() re-armed it
    # the helper thread is gone with the region
    assert within(DEADLINE, lambda: threading.active_count() == 1)
    assert len(os.listdir("/proc/self/task")) == 1


def test_asyncio_reader_wakes(fake):
    async def main(r):
        loop = asyncio.get_running_loop()
        got = loop.create_future()
        loop.add_reader(r.fileno(), lambda: got.done() or got.set_result(r.changed()))
        await loop.run_in_executor(None, fake.set_in, 1, 5.0)
        try:
            return await asyncio.wait_for(got, DEADLINE)
        finally:
            loop.remove_reader(r.fileno())

    with halmk.open(fake.name, readonly=True) as r:
        assert asyncio.run(main(r)) == ["pin.1"]


def test_stale_on_detach(fake):
    r = halmk.open(fake.name, readonly=True)
    fd = r.fileno()
    out = []

    def waiter():
        try:
            r.wait(timeout=DEADLINE)
        except halmk.Stale as e:
            out.append(e)

    t = threading.Thread(target=waiter)
    t.start()
    assert within(DEADLINE, t.is_alive)
    fake.detach()
    t.join(DEADLINE)
    assert len(out) == 1 and out[0].errno == 116
    assert out[0].strerror == halmk.strerror(116)
    assert r.stale
    assert select.select([fd], [], [], DEADLINE)[0] == [fd]  # readable for good
    with pytest.raises(halmk.Stale, match="detached"):
        r.check()
    r.close()


def test_open_waits_for_the_region(fake):
    name = fake.name + "-later"
    t = threading.Timer(0.2, lambda: fake.tool("create", name, "2"))
    t.start()
    try:
        with halmk.open(name, wait=DEADLINE) as r:
            assert len(r) == 2
    finally:
        t.join()
        for s in ("", ".waiters", ".stream", ".cmd"):
            try:
                os.unlink("/dev/shm/" + name + s)
            except FileNotFoundError:
                pass
    with pytest.raises(halmk.Timeout):
        halmk.open(name, wait=0.05)
