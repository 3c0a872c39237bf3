"""Reference and memory leaks: a million reads and writes, and the error
paths, leave Python's allocations (tracemalloc) and the process's resident
size where they were."""
import gc
import tracemalloc

import pytest

import halmk
from conftest import SLOW

N = 1_000_000


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4


def settle():
    gc.collect()
    return tracemalloc.get_traced_memory()[0], rss_kib()


def check_flat(loop, rounds=3):
    """Run loop once to warm caches, then measure."""
    loop()
    tracemalloc.start()
    try:
        py0, rss0 = settle()
        for _ in range(rounds):
            loop()
        py1, rss1 = settle()
    finally:
        tracemalloc.stop()
    assert py1 - py0 < 64 * 1024, "Python allocations grew by %d bytes" % (py1 - py0)
    # ASan keeps freed memory in quarantine: resident size says nothing there
    if SLOW == 1:
        assert rss1 - rss0 < 2048, "resident size grew by %d KiB" % (rss1 - rss0)


def applied(r, pin, want, seconds=30):
    """read_out shows what the bridge applied: the (fake) bridge takes the
    last write within a cycle or two; wait for it with a deadline."""
    import time
    end = time.monotonic() + seconds * SLOW
    while r.read_out(pin) != want and time.monotonic() < end:
        time.sleep(0.001)
    return r.read_out(pin) == want


def test_reads_and_writes_do_not_leak(fake):
    fake.set_in(0, 1.5)
    with halmk.open(fake.name) as r:
        def loop():
            for i in range(N // 3):
                r["pin.0"]
                r[1] = float(i)
            assert applied(r, "pin.1", float(N // 3 - 1))
        check_flat(loop)


def test_other_calls_do_not_leak(fake):
    with halmk.open(fake.name) as r:
        def loop():
            for _ in range(20000):
                r.snapshot()
                r.changed()
                r.pins()
                with r.transaction() as t:
                    t["pin.2"] = 2.0
                    t["pin.3"] = 3.0
        check_flat(loop)


def test_error_paths_do_not_leak(fake):
    with halmk.open(fake.name, readonly=True) as r:
        def loop():
            for _ in range(5000):
                for bad in (lambda: r["nosuch"], lambda: r.__setitem__("pin.0", 1.0),
                            lambda: r.wait(timeout=0), lambda: r.__setitem__("pin.0", "x")):
                    with pytest.raises((KeyError, TypeError, halmk.Error)):
                        bad()
        check_flat(loop, rounds=2)


def test_open_close_does_not_leak(fake):
    def loop():
        for _ in range(1000):
            with halmk.open(fake.name, readonly=True) as r:
                r.fileno() if _ % 100 == 0 else None
    check_flat(loop, rounds=2)
