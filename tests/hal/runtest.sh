#!/bin/bash
# runtest.sh DIR - run one HAL test in LinuxCNC's shape.
#
# DIR holds test.sh (a script driving a real HAL through halcmd and halpoke)
# or test.hal (run with halrun -f), and checkresult, which is called with the
# captured output file and exits non-zero on failure. HAL is always stopped
# afterwards, pass or fail: there is one HAL instance per machine.
set -u
dir=$(cd "$1" && pwd)
export RTAPI_UID=${RTAPI_UID:-65534}
export RTAPI_FIFO_PATH=${RTAPI_FIFO_PATH:-/tmp/hmk-rtapi-fifo}
export HMK_BIN=${HMK_BIN:?HMK_BIN must name the build directory}
export HMK_SRC=${HMK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
export PATH=$HMK_BIN:$PATH
export HMK_TESTLIB=$HMK_SRC/tests/hal/lib.sh
work=$(mktemp -d /tmp/hmk-haltest.XXXXXX)
export HMK_WORK=$work

stop_hal() {
    # rtapi_app keeps the caller's stdout open: never leave it on a pipe
    halrun -U >>"$work/hal.log" 2>&1 </dev/null 9>&- || halrun -U >/dev/null 2>&1 </dev/null 9>&-
}
finish() {
    rc=$?
    stop_hal
    if [ $rc -ne 0 ]; then
        echo "---- hal.log (last 30 lines)"; tail -n 30 "$work/hal.log" 2>/dev/null
        echo "---- work dir kept: $work"
    else
        rm -rf "$work"
    fi
    exit $rc
}
# one HAL per machine: serialise with any other runner (other build trees,
# other checkouts), not only within one ctest run
exec 9>/tmp/hmk-hal.lock
# other checkouts' suites on this machine may hold it for a while; ten
# minutes means one is stuck, and saying so beats a ctest timeout
flock -w 600 9 || { echo "FAIL: /tmp/hmk-hal.lock still held by another run after 600 s"; rm -rf "$work"; exit 1; }
trap finish EXIT
stop_hal   # a HAL left over by a crashed run would make loadrt fail
# the bridge this build made, installed under the lock: another checkout's
# run may have installed its own since the hal_install_bridge fixture ran
if [ -n "${HMK_RTLIB_DIR:-}" ] && [ -f "$HMK_BIN/hal_microkernel_bridge.so" ]; then
    cp "$HMK_BIN/hal_microkernel_bridge.so" "$HMK_RTLIB_DIR/" || exit 1
fi

cd "$work"
# fd 9 (the lock) stays ours: rtapi_app, which the test starts and which
# may outlive it, must not inherit it and hold every later run's lock
if [ -f "$dir/test.sh" ]; then
    bash "$dir/test.sh" >result 2>stderr 9>&-
else
    halrun -f "$dir/test.hal" >result 2>stderr </dev/null 9>&-
fi
rc=$?
if [ $rc -ne 0 ]; then
    echo "FAIL: test exited $rc"; echo "---- result"; cat result; echo "---- stderr"; cat stderr
    exit 1
fi
if ! bash "$dir/checkresult" result; then
    echo "FAIL: checkresult"; echo "---- result"; cat result; echo "---- stderr"; cat stderr
    exit 1
fi
cat result
echo "PASS $(basename "$dir")"
