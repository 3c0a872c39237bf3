"""halmk against a real HAL (run by test.sh with the bridge loaded):
typed writes reach HAL, transactions, HAL changes wake wait(), the stream
keeps every change in order, asyncio's reader wakes, ungranted writes are
refused, and halmk reads what LinuxCNC's own hal module reads."""
import asyncio
import os
import subprocess
import sys
import time

import hal  # LinuxCNC's module, the peer

import halmk

DEADLINE = 30


def halcmd(*args):
    return subprocess.run(["halcmd", "-s", *args], check=True, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL).stdout.strip()


def getp(pin):
    return halcmd("getp", "microkernel." + pin)


def until(cond, what):
    end = time.monotonic() + DEADLINE
    while not cond():
        if time.monotonic() > end:
            sys.exit("FAIL: timed out waiting for " + what)
        time.sleep(0.005)


def expect(exc, fn, text):
    try:
        fn()
    except exc as e:
        if text not in str(e):
            sys.exit("FAIL: %r does not name %r" % (e, text))
        return e
    sys.exit("FAIL: no %s for %s" % (exc.__name__, text))


def writes(r):
    r["coolant"] = True
    r["count"] = -5
    r["mask"] = 0xFFFFFFFF
    until(lambda: getp("coolant") == "TRUE" and getp("count") == "-5"
          and getp("mask") == "4294967295", "typed writes in HAL")
    print("typed writes reach HAL: bit, s32, u32")
    expect(ValueError, lambda: r.__setitem__("count", 2 ** 31), "'count'")
    expect(ValueError, lambda: r.__setitem__("coolant", 2), "'coolant'")
    expect(TypeError, lambda: r.__setitem__("mask", 1.0), "'mask'")
    e = expect(halmk.PermissionDenied, lambda: r.__setitem__("speed", 1.0), "speed")
    assert e.strerror == "pin is not writable from outside HAL (direction in)"
    print("bad writes refused, naming the pin")
    with r.transaction() as t:
        t["x"] = 1.5
        t["y"] = 2.5
    until(lambda: float(getp("x")) == 1.5 and float(getp("y")) == 2.5, "transaction in HAL")
    print("transaction committed both pins")
    r.pulse("trig", True)
    expect(halmk.PermissionDenied, lambda: r.pulse("speed", 1.0), "speed")
    print("pulse accepted")


def reads(r):
    halcmd("setp", "microkernel.speed", "12.5")
    until(lambda: r["speed"] == 12.5, "HAL's value in the region")
    assert hal.get_value("microkernel.speed") == r["speed"]
    r.changed()
    halcmd("setp", "microkernel.speed", "13.5")
    assert r.wait(["speed", "spindle-at-speed"], timeout=DEADLINE) == ["speed"]
    assert r["speed"] == 13.5 == hal.get_value("microkernel.speed")
    snap = r.snapshot()
    assert snap["speed"] == 13.5 and snap["coolant"] is True
    print("wait woke on a HAL change; values agree with LinuxCNC's hal module")


def stream(r):
    with r.stream() as s:
        for v in ("1", "2", "3", "4"):
            halcmd("setp", "microkernel.speed", v)
        got = []
        while len(got) < 4:
            got += [(e.pin, e.value) for e in s.read(timeout=DEADLINE)]
        assert got == [("speed", 1.0), ("speed", 2.0), ("speed", 3.0), ("speed", 4.0)], got
        assert s.lost == 0
    print("stream: 4 changes in order, 0 lost")


def asyncio_reader(r):
    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        def readable():
            changed = r.changed(["spindle-at-speed"])
            if changed and not fut.done():
                fut.set_result(changed)
        loop.add_reader(r.fileno(), readable)
        await loop.run_in_executor(None, halcmd, "setp", "microkernel.spindle-at-speed", "1")
        try:
            return await asyncio.wait_for(fut, DEADLINE)
        finally:
            loop.remove_reader(r.fileno())
    assert asyncio.run(main()) == ["spindle-at-speed"]
    halcmd("setp", "microkernel.spindle-at-speed", "0")
    print("asyncio reader woke on a HAL change")


def ungranted():
    code = ("import halmk\nr = halmk.open()\nr['coolant'] = False\n"
            "try:\n    r['x'] = 1.0\nexcept PermissionError as e:\n    print('refused', e.filename)\n")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, HMK_WRITE_PINS="coolant"),
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "refused x", out
    print("ungranted write refused (PermissionError)")


def main():
    comp = hal.component("hmkpycheck")  # hal.get_value needs a component
    comp.ready()
    try:
        with halmk.open(wait=DEADLINE) as r:
            checks(r)
    finally:
        comp.exit()


def checks(r):
    if True:
        writes(r)
        reads(r)
        stream(r)
        asyncio_reader(r)
        ungranted()
        print("connected without a daemon: %s" % r.connected)


if __name__ == "__main__":
    main()
