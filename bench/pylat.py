#!/usr/bin/python3
"""pylat - the LinuxCNC way for a Python program to watch a HAL pin.

    /usr/bin/python3 pylat.py NAME PERIOD_S DURATION_S SAMPLES_FILE

A userspace hal.component NAME with one float in pin NAME.stamp, polled in
a `time.sleep(PERIOD_S)` loop for DURATION_S seconds, as integrators write
them. bench/run.sh nets edgestamp.stamp (the CLOCK_MONOTONIC nanosecond at
which HAL changed the pin, see edgestamp.c) to NAME.stamp; each time the
loop sees a new value it records now - value (ns) into SAMPLES_FILE, the
same clock every other observer in the benchmark uses. Unlinked, it is the
idle 10 ms loop whose CPU cost run.sh measures.
"""
import sys
import time

import hal


def main():
    if len(sys.argv) != 5:
        sys.stderr.write("usage: pylat.py NAME PERIOD_S DURATION_S SAMPLES_FILE\n")
        return 2
    name, period, duration, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    comp = hal.component(name)
    comp.newpin("stamp", hal.HAL_FLOAT, hal.HAL_IN)
    comp.ready()
    clock = time.CLOCK_MONOTONIC
    samples = []
    last = comp["stamp"]
    end = time.clock_gettime_ns(clock) + int(duration * 1e9)
    try:
        while time.clock_gettime_ns(clock) < end:
            time.sleep(period)
            value = comp["stamp"]
            if value != last:
                now = time.clock_gettime_ns(clock)
                if last != 0.0:  # the first value is the link being made
                    samples.append(now - value)
                last = value
    finally:
        comp.exit()
    with open(out, "w") as f:
        for s in samples:
            f.write("%.0f\n" % s)
    print("samples %d" % len(samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
