# Helpers for the daemon's integration tests: real processes, no HAL. Each
# test is its own file, tests/daemon/it/NAME.sh (ctest daemon.it.NAME), which
# sources this one, defines t_NAME and ends with it_main:
#   it/NAME.sh DAEMON CTL TESTSVC NOTIFY [REGIONTOOL QUEUETOOL REACT]
# HMK_IT_TEST=OTHER runs the file's t_OTHER instead (pidmax runs its part
# inside a pid namespace so).
# Each test gets its own temp dir, control socket and region name, so tests
# run in parallel. Waits are on conditions with a deadline, never blind.
# Exit 0 pass, 1 fail, 77 skip.
set -u
TEST=${HMK_IT_TEST:-$(basename "$0" .sh)}
unset HMK_IT_TEST
DAEMON=$1 CTL=$2 SVC=$3 NOTIFY=$4 RTOOL=${5:-} QTOOL=${6:-} REACT=${7:-}
# time bounds are SLOW times wider in sanitized builds (see daemon/CMakeLists.txt)
SLOW=1
[ -n "${HMK_SANITIZED:-}" ] && SLOW=4
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d /tmp/hmk-it-$TEST.XXXXXX)
chmod 755 "$T"
LOG=$T/events.log
DLOG=$T/daemon.log
SOCK=$T/ctl.sock
REGION=hmk-it-$$-$RANDOM
QNAME=it$$
DPID= NPID=
export HMK_TEST_LOG=$LOG
: >"$LOG"

cleanup() {
    [ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
    [ -n "$NPID" ] && kill -TERM "$NPID" 2>/dev/null
    # services are in their own sessions: kill what our test services left
    for p in $(pgrep -f "^$SVC [a-z]" 2>/dev/null); do
        grep -qs "HMK_TEST_LOG=$LOG" /proc/$p/environ && kill -KILL "$p"
    done
    rm -f "/dev/shm/$REGION" "/dev/shm/.$REGION.test" "/dev/shm/$REGION.stream" "/dev/shm/.$REGION.test.stream"
    rm -f /dev/shm/hmkq.$QNAME-*
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    echo "--- daemon log"; cat "$DLOG" 2>/dev/null | tail -n 60
    echo "--- events"; tail -n 40 "$LOG"
    exit 1
}

# within SECONDS CMD...: true as soon as CMD is, false once SECONDS have passed
# (the clock is bash's own: no fork per poll, which counts on a loaded machine)
within() {
    local end=$(( ${EPOCHREALTIME//[!0-9]/} + $1 * 1000000 )); shift
    until "$@"; do
        [ "${EPOCHREALTIME//[!0-9]/}" -gt "$end" ] && return 1
        sleep 0.01
    done
}
# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds.
# SECONDS is about what it takes on a quiet machine; the deadline is 4 times
# that and at least HMK_WAIT_MIN (60) seconds: valgrind or a sanitizer on a
# loaded 2-vCPU VM beside the rest of the suite. A condition wait costs
# nothing when the condition holds, only a failure takes that long.
wait_for() {
    local limit=$(( $1 * 4 )) desc=$2; shift 2
    [ "$limit" -ge "${HMK_WAIT_MIN:-60}" ] || limit=${HMK_WAIT_MIN:-60}
    within "$limit" "$@" || fail "timed out after ${limit}s waiting for: $desc"
}

# conf BODY: daemon section plus services, written to $T/conf.ini
conf() {
    local f=${2:-$T/conf.ini}
    { printf '[daemon]\nregion = %s\ncontrol-socket = %s\nheartbeat-period = 100ms\nlog-level = %s\n' \
        "$REGION" "$SOCK" "${LOGLEVEL:-debug}"; printf '%s\n' "$1"; } |
        sed "s|^\[service .*\]\$|&\nenv = HMK_TEST_LOG=$LOG|" >"$f"
}

start_daemon() {
    "$DAEMON" -c "${1:-$T/conf.ini}" 2>>"$DLOG" &
    DPID=$!
    wait_for 5 "control socket" test -S "$SOCK"
}

stop_daemon() {
    kill -TERM "$DPID"
    local rc=0
    wait "$DPID" || rc=$?
    DPID=
    [ "$rc" = 0 ] || fail "daemon exited $rc after SIGTERM"
}

ctl() { "$CTL" -s "$SOCK" "$@"; }
# field NAME COLUMN: one column of the status table (--json is checked in ctl_perm)
field() {
    local line
    line=$(ctl status "$1" | sed -n 2p) || return 1
    case $2 in
    state) echo "$line" | awk '{print $2}' ;;
    pid) echo "$line" | awk '{print ($3 == "-") ? 0 : $3}' ;;
    restarts) echo "$line" | awk '{print $5}' ;;
    last_exit) echo "$line" | sed -E 's/^([^ ]+ +){5} *//' ;;
    esac
}
state_is() { [ "$(field "$1" state)" = "$2" ]; }
count() { grep -c "^$1 $2 " "$LOG"; }
count_ge() { [ "$(count "$1" "$2")" -ge "$3" ]; }
log_has() { grep -q -- "$1" "$DLOG"; }
zombies_of() { # number of zombie children of pid $1
    local n=0 p
    for p in /proc/[0-9]*; do
        read -r _ _ st pp _ <"$p/stat" 2>/dev/null || continue
        [ "$pp" = "$1" ] && [ "$st" = Z ] && n=$((n + 1))
    done
    echo $n
}
# (a child that just exited is a zombie until the daemon's next loop pass
# reaps it: callers wait for none, and a leaked one never goes)
no_zombies() { [ "$(zombies_of "$DPID")" = 0 ]; }

# the last line of every test file
it_main() {
    "t_$TEST"
    echo "PASS: $TEST"
}
