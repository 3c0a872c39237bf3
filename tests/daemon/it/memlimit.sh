#!/bin/bash
. "$(dirname "$0")/../lib.sh"

# A service over its memory limit (limit-as, RLIMIT_AS): its allocations
# fail and it aborts; the daemon says how it ended and how close to the
# limit it came, and restarts it per its policy, again and again, while the
# limit holds each time; one with restart = no is reported and left down.
t_memlimit() {
    LOGLEVEL=info conf "[service hog]
exec = $SVC hog hog
limit-as = 64M
restart = on-failure
backoff-initial = 100ms
backoff-max = 100ms
crash-limit = none

[service once]
exec = $SVC once hog
limit-as = 48M
restart = no"
    start_daemon
    capped() { ! grep -q '^cap ' "$LOG" || fail "a service got 1 GiB: limit-as not applied"; }
    wait_for 20 "three times over the limit" eval 'capped && count_ge oom hog 3'
    wait_for 5 "restarted after the third" count_ge start hog 4
    wait_for 5 "once down" state_is once stopped
    capped
    local mib peak line
    mib=$(awk '$1 == "oom" && $2 == "hog" { if ($5 > m) m = $5 } END { print m + 0 }' "$LOG")
    [ "$mib" -gt 0 ] && [ "$mib" -lt 64 ] || fail "hog reached $mib MiB under a 64 MiB limit"
    # each death: one line saying how, and how near the limit, then the restart
    line='^<4>Service hog killed by SIGABRT( \(core dumped\))? \(limit-as 64 MiB; peak resident [0-9.]+ MiB\)$'
    [ "$(grep -cE "$line" "$DLOG")" -ge 3 ] || fail "the daemon did not say how hog ended"
    peak=$(grep -E "$line" "$DLOG" | head -n 1 | sed -E 's/.*peak resident ([0-9.]+) MiB.*/\1/')
    awk -v p="$peak" -v m="$mib" 'BEGIN { exit !(p >= m && p < 64) }' \
        || fail "peak resident $peak MiB reported, the service touched $mib MiB under 64"
    [ "$(grep -c 'Restarting service hog in 100 ms' "$DLOG")" -ge 3 ] || fail "restarts not reported"
    grep -qE '^<4>Service once killed by SIGABRT( \(core dumped\))? \(limit-as 48 MiB; peak resident [0-9.]+ MiB\)$' "$DLOG" \
        || fail "the daemon did not say how once ended"
    [ "$(count start once)" = 1 ] || fail "restart = no: once started $(count start once) times"
    case $(field once last_exit) in "killed by SIGABRT"*) ;; *) fail "once: last exit $(field once last_exit)" ;; esac
    wait_for 10 "no zombies" no_zombies
    stop_daemon
    echo "memlimit: limit-as 64M, the service got $mib MiB and aborted; reported as '$(grep -E "$line" "$DLOG" |
        head -n 1 | cut -c4-)'; restarted $(( $(count start hog) - 1 )) times; restart = no left it down"
}

it_main
