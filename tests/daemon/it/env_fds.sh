#!/bin/bash
. "$(dirname "$0")/../lib.sh"

t_env_fds() {
    [ "$(id -u)" = 0 ] || { echo "needs root for user = nobody"; exit 77; }
    conf "[service e]
exec = $SVC e env
ready = none
user = nobody
group = nogroup
nice = 5
cpu-affinity = 0
limit-nofile = 64
env = FOO=bar baz
env = LANG=C"
    chmod 666 "$LOG"
    start_daemon
    wait_for 5 "env dumped" count_ge nofile e 1
    local envs; envs=$(awk '$1=="env"{print $5, $6}' "$LOG" | sort | tr '\n' ';')
    [ "$envs" = "FOO=bar baz;HAL_MICROKERNEL_REGION=$REGION ;HMK_TELEMETRY_FD=5 ;HMK_TEST_LOG=$LOG ;LANG=C ;" ] ||
        fail "environment: $envs"
    # 5: its telemetry block; 3 and 4 (ready pipe, channel) stay closed
    grep -q "^fds e [0-9]* [0-9]* 0,1,2,5\$" "$LOG" || fail "fds: $(grep ^fds "$LOG")"
    grep -q "^id e .* uid=65534 gid=65534" "$LOG" || fail "ids: $(grep ^id "$LOG")"
    grep -q "^nice e .* 5\$" "$LOG" || fail "nice"
    grep -q "^affinity e .* 1\$" "$LOG" || fail "affinity"
    grep -q "^nofile e .* 64\$" "$LOG" || fail "nofile"
    stop_daemon
    # with ready = fd the service also gets fd 3 and HMK_READY_FD=3 (no
    # region here, so no channel on 4)
    : >"$LOG"
    conf "[service e]
exec = $SVC e env
ready = fd
writes = pin.0 spindle.speed"
    start_daemon
    wait_for 5 "env dumped" count_ge nofile e 1
    grep -q "^fds e [0-9]* [0-9]* 0,1,2,3,5\$" "$LOG" || fail "fds with ready: $(grep ^fds "$LOG")"
    grep -q "^env e .* HMK_READY_FD=3\$" "$LOG" || fail "HMK_READY_FD"
    grep -q "^env e .* HMK_WRITE_PINS=pin.0,spindle.speed\$" "$LOG" || fail "HMK_WRITE_PINS"
    state_is e starting || fail "a service that never reports ready must stay starting"
    stop_daemon
}

it_main
