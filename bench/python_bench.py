#!/usr/bin/python3
"""python_bench - the Python side of bench/python.sh (not run on its own).

    python_bench.py svc  SECONDS OUT    halmk.Service, on_change per stamp change
    python_bench.py wait SECONDS OUT    Region.wait() loop
    python_bench.py rw   N              reads/s and writes/s: halmk vs LinuxCNC's hal
    python_bench.py idle                an idle halmk.Service until SIGTERM (CPU measured outside)

Latency modes record (CLOCK_MONOTONIC now - stamp) in ns for each change of
microkernel.stamp, which bench/edgestamp.c sets to the time of its change.
"""
import sys
import time

import halmk

CLOCK = time.CLOCK_MONOTONIC


def now_ns():
    return time.clock_gettime_ns(CLOCK)


def lat_svc(seconds, out):
    samples = []

    class Lat(halmk.Service):
        def on_attach(self):
            self.end = now_ns() + int(seconds * 1e9)
            self.first = True

        def on_change(self, pin, value, cycle):
            t = now_ns()
            if self.first:  # the value at attach, not a change
                self.first = False
            else:
                samples.append(t - value)
            if t > self.end:
                self.stop()

    Lat("pybench", reads=["stamp"]).run()
    return samples


def lat_wait(seconds, out):
    samples = []
    with halmk.open() as r:
        end = now_ns() + int(seconds * 1e9)
        while now_ns() < end:
            r.wait(["stamp"], timeout=1)
            samples.append(now_ns() - r["stamp"])
    return samples


def rate(fn, n):
    t0 = time.perf_counter()
    fn(n)
    return n / (time.perf_counter() - t0)


def rw(n):
    import hal
    comp = hal.component("pybenchrw")
    comp.newpin("x", hal.HAL_FLOAT, hal.HAL_IN)
    comp.newpin("y", hal.HAL_FLOAT, hal.HAL_OUT)
    comp.ready()
    try:
        with halmk.open() as r:
            def mk_read(k):
                for _ in range(k):
                    r["stamp"]

            def mk_write(k):
                for i in range(k):
                    r["w"] = float(i)

            def hal_get(k):
                for _ in range(k):
                    hal.get_value("microkernel.stamp")

            def hal_set(k):
                for i in range(k):
                    hal.set_p("pybenchrw.x", str(i))

            def comp_read(k):
                for _ in range(k):
                    comp["x"]

            def comp_write(k):
                for i in range(k):
                    comp["y"] = float(i)
            # the hal calls are slower: fewer of them for the same run time
            res = [rate(mk_read, n), rate(mk_write, n), rate(hal_get, n // 10),
                   rate(hal_set, n // 10), rate(comp_read, n), rate(comp_write, n)]
    finally:
        comp.exit()
    print(" ".join("%.0f" % x for x in res))


def idle():
    halmk.Service("pyidle", reads=["stamp"], on_change=lambda *a: None).run()  # until SIGTERM


def main():
    mode = sys.argv[1]
    if mode in ("svc", "wait"):
        samples = (lat_svc if mode == "svc" else lat_wait)(float(sys.argv[2]), sys.argv[3])
        with open(sys.argv[3], "w") as f:
            f.writelines("%.0f\n" % s for s in samples)
        print("samples %d" % len(samples))
    elif mode == "rw":
        rw(int(sys.argv[2]))
    elif mode == "idle":
        idle()
    return 0


if __name__ == "__main__":
    sys.exit(main())
