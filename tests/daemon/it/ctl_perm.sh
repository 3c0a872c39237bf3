#!/bin/bash
. "$(dirname "$0")/../lib.sh"

t_ctl_perm() {
    command -v setpriv >/dev/null || { echo "setpriv missing"; exit 77; }
    [ "$(id -u)" = 0 ] || { echo "needs root to switch uid"; exit 77; }
    local gid; gid=$(getent group users | cut -d: -f3)
    conf "[service a]
exec = $SVC a run"
    sed -i "s|^\[daemon\]|[daemon]\ncontrol-mode = 0666\ncontrol-group = users|" "$T/conf.ini"
    start_daemon
    wait_for 5 "running" state_is a running
    local pid out rc; pid=$(field a pid)
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" -s "$SOCK" status a) || fail "status refused: $out"
    echo "$out" | grep -q "^a  *running" || fail "status output: $out"
    rc=0; out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" -s "$SOCK" restart a 2>&1) || rc=$?
    [ "$rc" = 1 ] || fail "unprivileged restart: rc $rc"
    echo "$out" | grep -q "permission denied" || fail "message: $out"
    [ "$(field a pid)" = "$pid" ] || fail "restart happened anyway"
    log_has "Refused 'restart a' from an unprivileged peer" || fail "refusal not logged"
    # a member of control-group (supplementary) may
    setpriv --reuid=65534 --regid=65534 --groups="$gid" "$CTL" -s "$SOCK" restart a >/dev/null || fail "group member refused"
    wait_for 5 "restarted" eval '[ "$(field a pid)" != "$pid" ] && state_is a running'
    ctl --json status | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[0]["name"]=="a" and d[0]["restarts"]==0' || fail "json"
    stop_daemon
}

it_main
