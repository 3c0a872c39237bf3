#!/bin/bash
# The command line (main.c's parse_args): every documented spelling of the
# options works, and a wrong one gets one line naming it, the usage, exit 2.
. "$(dirname "$0")/../lib.sh"

t_args() {
    local out rc ok="$T/ok.ini" want
    printf '[daemon]\nlog-level = err\n[service a]\nexec = /bin/true\n' >"$ok"
    want="$ok: OK (1 services)"
    for args in "-n -c $ok" "-nc $ok" "-c$ok -n" "--check --config $ok" "--config=$ok --check"; do
        rc=0; out=$("$DAEMON" $args 2>&1) || rc=$?
        [ "$rc" = 0 ] && [ "$out" = "$want" ] || fail "'$args': rc=$rc '$out'"
    done
    rc=0; out=$("$DAEMON" --help) || rc=$?
    [ "$rc" = 0 ] && [[ "$out" == "Usage: hal-microkernel "* ]] || fail "--help: rc=$rc '$out'"
    rc=0; out=$("$DAEMON" --version) || rc=$?
    [ "$rc" = 0 ] && [[ "$out" == "hal-microkernel "[0-9]* ]] || fail "--version: rc=$rc '$out'"
    # wrong: the first line names what was wrong, the usage follows, exit 2
    check_bad() {
        local first
        rc=0; out=$("$DAEMON" "$@" 2>&1 >/dev/null) || rc=$?
        first=${out%%$'\n'*}
        [ "$rc" = 2 ] && [ "$first" = "$want" ] && [[ "$out" == *"Usage: hal-microkernel "* ]] ||
            fail "'$*': rc=$rc '$out'"
    }
    want="hal-microkernel: unknown option '--bogus'"; check_bad -n --bogus
    want="hal-microkernel: unknown option '-x'"; check_bad -nx
    want="hal-microkernel: unknown option '--check=yes'"; check_bad --check=yes
    want="hal-microkernel: option '-c' needs a FILE"; check_bad -n -c
    want="hal-microkernel: option '--config' needs a FILE"; check_bad --config
    want="hal-microkernel: unexpected argument 'extra'"; check_bad -n -c "$ok" extra
    want="hal-microkernel: unexpected argument '-c'"; check_bad -n -- -c "$ok"
}

it_main
