# lib.sh - helpers for tests/hal/*/test.sh. Sourced, never run.
# Every wait has a deadline; nothing sleeps and hopes.

die() { echo "FAIL: $*" >&2; exit 1; }

# hal_load FILE: run a .hal file against the (auto-started) realtime.
hal_load() {
    halcmd -f "$1" >>"$HMK_WORK/hal.log" 2>&1 </dev/null || die "halcmd -f $1 failed"
}

# hal_cmd ARGS: one halcmd command, output on stdout, log on failure.
hal_cmd() { halcmd "$@" 2>>"$HMK_WORK/hal.log" </dev/null; }

getp() { halcmd -s getp "$1" 2>>"$HMK_WORK/hal.log" </dev/null; }

# deadline SECONDS: the end of a condition wait, in microseconds. SECONDS is
# about what it takes on a quiet machine; the deadline is 4 times that and
# at least HMK_WAIT_MIN (60) seconds: valgrind or a sanitizer on a loaded
# 2-vCPU VM. A condition wait costs nothing when the condition holds.
deadline() {
    local s=$(( $1 * 4 ))
    [ "$s" -ge "${HMK_WAIT_MIN:-60}" ] || s=${HMK_WAIT_MIN:-60}
    echo $(( ${EPOCHREALTIME//[!0-9]/} + s * 1000000 ))
}

# wait_until SECONDS COMMAND...: retry COMMAND until it succeeds or time is up.
wait_until() {
    local end; end=$(deadline "$1"); shift
    while ! "$@" >/dev/null 2>&1; do
        [ "${EPOCHREALTIME//[!0-9]/}" -lt "$end" ] || return 1
        sleep 0.005
    done
}

# wait_output SECONDS WANT COMMAND...: retry until COMMAND prints exactly WANT.
wait_output() {
    local end want=$2; end=$(deadline "$1"); shift 2
    while [ "$("$@" 2>/dev/null)" != "$want" ]; do
        [ "${EPOCHREALTIME//[!0-9]/}" -lt "$end" ] || return 1
        sleep 0.005
    done
}

# update_count PREFIX: the bridge's cycle counter as HAL shows it (decimal).
update_count() { printf '%d' "$(getp "${1:-microkernel}.update-count")"; }

# wait_cycles N [PREFIX]: wait until the servo thread ran the bridge N times more.
wait_cycles() {
    local start; start=$(update_count "${2:-microkernel}")
    wait_until 10 count_at_least "${2:-microkernel}" $(( start + $1 )) \
        || die "bridge did not advance $1 cycles"
}

count_at_least() { [ "$(update_count "$1")" -ge "$2" ]; }

# pin_is PIN VALUE: HAL's value of PIN equals VALUE (as halcmd prints it).
pin_is() { [ "$(getp "$1")" = "$2" ]; }

# float_eq A B: numeric equality of two float texts.
float_eq() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 == b + 0) }'; }

# saw LABEL COMMAND...: run COMMAND (stdout dropped) and print what it did as
# one observation line, "LABEL: exit STATUS" and its first stderr line, for
# checkresult to judge.
saw() {
    local label=$1 err rc; shift
    err=$("$@" 2>&1 >/dev/null </dev/null); rc=$?
    echo "$label: exit $rc${err:+: ${err%%$'\n'*}}"
}
