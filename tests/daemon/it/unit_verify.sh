#!/bin/bash
. "$(dirname "$0")/../lib.sh"

t_unit_verify() {
    command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing"; exit 77; }
    # verify the shipped unit; only ExecStart's path points at this build
    sed "s|/usr/sbin/hal-microkernel|$DAEMON|g" "$SRC/configs/hal-microkernel.service" >"$T/hal-microkernel.service"
    local out
    out=$(cd "$T" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$T/hal-microkernel.service" 2>&1)
    local rc=$?
    echo "$out"
    [ "$rc" = 0 ] || fail "systemd-analyze verify: rc $rc"
    echo "$out" | grep -q "hal-microkernel.service" && fail "warnings about the unit"
    grep -q '^Type=notify$' "$SRC/configs/hal-microkernel.service" || fail "not Type=notify"
    true
}

it_main
