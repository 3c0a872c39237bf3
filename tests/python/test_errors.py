"""Bad input gives one clear exception naming the input, never a crash;
libhalmk's errors carry its text."""
import math
import os
import random

import pytest

import halmk


def test_error_classes():
    assert issubclass(halmk.Error, OSError)
    assert issubclass(halmk.Stale, halmk.Error)
    assert issubclass(halmk.PermissionDenied, PermissionError)
    assert issubclass(halmk.PermissionDenied, halmk.Error)
    assert issubclass(halmk.Timeout, TimeoutError)
    assert issubclass(halmk.NotFound, FileNotFoundError)


def test_no_region():
    with pytest.raises(halmk.NotFound) as e:
        halmk.open("hmk-py-no-such-region")
    assert e.value.strerror == halmk.strerror(2) == "no such region (is hal_microkernel_bridge loaded?)"
    assert e.value.filename == "hmk-py-no-such-region"
    assert "hmk-py-no-such-region" in str(e.value)


def test_bad_keys_and_values(fake):
    with halmk.open(fake.name) as r:
        with pytest.raises(KeyError, match="'nosuch'"):
            r["nosuch"]
        with pytest.raises(KeyError):
            r["pin.0\0x"]  # an embedded NUL is no pin
        with pytest.raises(IndexError, match="out of range"):
            r[4]
        with pytest.raises(IndexError):
            r[-1]
        with pytest.raises(TypeError, match="name .str. or an index"):
            r[1.5]
        with pytest.raises(TypeError, match="pin 'pin.0' is float: expected float or int, got str"):
            r["pin.0"] = "1.0"
        with pytest.raises(ValueError, match="pin 'pin.0' is float: nan is not finite"):
            r["pin.0"] = math.nan
        with pytest.raises(ValueError, match="not finite"):
            r["pin.0"] = math.inf
        with pytest.raises(ValueError, match="out of range"):
            r["pin.0"] = 10 ** 400
        with pytest.raises(TypeError, match="cannot be deleted"):
            del r["pin.0"]
        with pytest.raises(ValueError, match="timeout"):
            r.wait(timeout=-1)
        with pytest.raises(TypeError, match="timeout"):
            r.wait(timeout="1")
        with pytest.raises(KeyError, match="nosuch"):
            r.wait(["pin.0", "nosuch"], timeout=0)
        with pytest.raises(TypeError):
            r.wait(42.0)
        with pytest.raises(ValueError, match="errno"):
            halmk.strerror(0)


def test_readonly_refuses_writes(fake):
    with halmk.open(fake.name, readonly=True) as r:
        with pytest.raises(halmk.PermissionDenied) as e:
            r["pin.0"] = 1.0
        assert e.value.filename == "pin.0" and e.value.strerror == "region opened read-only"
        with pytest.raises(PermissionError):
            with r.transaction() as t:
                t["pin.1"] = 2.0


def test_transaction_rolls_back_on_exception(fake):
    with halmk.open(fake.name) as r:
        before = r.read_out("pin.1")
        with pytest.raises(RuntimeError):
            with r.transaction() as t:
                t["pin.1"] = before + 1.0
                raise RuntimeError("abandon")
        assert r.read_out("pin.1") == before
        with pytest.raises(ValueError, match="closed transaction"):
            t["pin.1"] = 1.0


# values of every kind the randomized test throws at the API
ODD = [None, b"x", "", "pin.0", "pin.0\0", "\udcff", 0, 1, -1, 2 ** 31, 2 ** 32, -2 ** 63,
       10 ** 100, 0.5, -0.0, math.nan, math.inf, True, False, [], ["pin.0"], [1, "x"], {},
       (1,), object(), bytearray(b"q"), 1j, "microkernel.pin.0.out", "4", "x" * 5000]
EXPECTED = (TypeError, ValueError, KeyError, IndexError, OverflowError, halmk.Error)


def test_randomized_bad_input(fake):
    """Thousands of random calls with odd arguments: each returns or raises
    one of the documented exceptions; the process never crashes."""
    rng = random.Random(int(os.environ.get("HMK_PY_SEED", "16")))
    r = halmk.open(fake.name)
    t = r.transaction()
    calls = [
        lambda a, b: r[a],
        lambda a, b: r.__setitem__(a, b),
        lambda a, b: r.read_out(a),
        lambda a, b: r.pin(a),
        lambda a, b: r.pulse(a, b),
        lambda a, b: r.wait(a, timeout=0),
        lambda a, b: r.changed(a),
        # only timeouts that are invalid or 0: a valid one would just wait
        lambda a, b: r.wait(timeout=0 if a is None or isinstance(a, (int, float)) and 0 <= a <= 1e6 else a),
        lambda a, b: t.__setitem__(a, b),
        lambda a, b: a in r,
        lambda a, b: halmk.open(a, wait=0),
        lambda a, b: halmk.Queue(a),
        lambda a, b: halmk.strerror(a),
        lambda a, b: halmk.Service(a, reads=b),
    ]
    outcomes = {}
    for _ in range(5000):
        call, a, b = rng.choice(calls), rng.choice(ODD), rng.choice(ODD)
        try:
            res = call(a, b)
            if isinstance(res, halmk.Region):
                res.close()
            kind = "ok"
        except EXPECTED as e:
            kind = type(e).__name__
        outcomes[kind] = outcomes.get(kind, 0) + 1
    t.clear()
    t.close()
    r.close()
    assert outcomes.get("ok", 0) > 0 and len(outcomes) >= 4, outcomes
