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

# wait_until SECONDS COMMAND...: retry COMMAND until it succeeds or time is up.
wait_until() {
    local limit=$1; shift
    local end=$(( $(date +%s%N) + limit * 1000000000 ))
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s%N)" -lt "$end" ] || return 1
        sleep 0.005
    done
}

# wait_output SECONDS WANT COMMAND...: retry until COMMAND prints exactly WANT.
wait_output() {
    local limit=$1 want=$2; shift 2
    local end=$(( $(date +%s%N) + limit * 1000000000 ))
    while [ "$("$@" 2>/dev/null)" != "$want" ]; do
        [ "$(date +%s%N)" -lt "$end" ] || return 1
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
