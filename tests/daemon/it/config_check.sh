#!/bin/bash
. "$(dirname "$0")/../lib.sh"

t_config_check() {
    "$DAEMON" -n -c "$SRC/configs/hal-microkernel.ini" || fail "example config rejected"
    local out rc
    printf '[daemon]\nregion = x\n[service a]\nexec = /bin/true\nafter = b\n' >"$T/bad.ini"
    rc=0; out=$("$DAEMON" -n -c "$T/bad.ini" 2>&1) || rc=$?
    [ "$rc" = 1 ] && [ "$out" = "$T/bad.ini:5: unknown service 'b' in after" ] || fail "after: rc=$rc '$out'"
    printf '[service a]\nexec = /bin/true\nafter = b\n[service b]\nexec = /bin/true\nafter = a\n' >"$T/bad.ini"
    rc=0; out=$("$DAEMON" -n -c "$T/bad.ini" 2>&1) || rc=$?
    [ "$rc" = 1 ] && [[ "$out" == "$T/bad.ini:"*": dependency cycle in after: "* ]] || fail "cycle: rc=$rc '$out'"
    rc=0; out=$("$DAEMON" -n -c "$T/missing.ini" 2>&1) || rc=$?
    [ "$rc" = 1 ] && [ "$out" = "Failed to open '$T/missing.ini': No such file or directory" ] || fail "missing: '$out'"
    # a second daemon on the same control socket refuses to start
    conf ""
    start_daemon
    rc=0; out=$("$DAEMON" -c "$T/conf.ini" 2>&1) || rc=$?
    [ "$rc" = 1 ] && [ "$out" = "<3>Another hal-microkernel is running on '$SOCK'" ] || fail "second daemon: rc=$rc '$out'"
    ctl status >/dev/null || fail "first daemon lost its socket"
    stop_daemon
    rc=0; out=$("$DAEMON" -n -c "$T/missing.ini" 2>&1) || rc=$?
    [ "$rc" = 1 ] && [ "$out" = "Failed to open '$T/missing.ini': No such file or directory" ] || fail "missing: '$out'"
    # a bad config makes the daemon itself exit 1 with the same line
    rc=0; out=$("$DAEMON" -c "$T/bad.ini" 2>&1) || rc=$?
    [ "$rc" = 1 ] && [[ "$out" == "<3>$T/bad.ini:"* ]] || fail "daemon: rc=$rc '$out'"
}

it_main
