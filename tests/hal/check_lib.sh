# check_lib.sh - helpers for tests/hal/*/checkresult. Sourced, never run.
# test.sh writes what it saw as "LABEL: VALUE" lines and judges nothing;
# checkresult, called with that output file, judges them here and on a
# failure prints one line saying what is wrong (and exits 1).
result=${1:?usage: checkresult OUTPUT-FILE}

fail() { echo "FAIL: $*"; exit 1; }

# seen LABEL: the value of the first "LABEL: VALUE" line; false if none.
seen() {
    awk -v l="$1: " 'index($0, l) == 1 { print substr($0, length(l) + 1); f = 1; exit } END { exit !f }' "$result"
}

# has LABEL: the value; a missing line is the failure.
has() { seen "$1" || fail "no '$1:' line"; }

# want LABEL VALUE: the value is exactly VALUE.
want() { local v; v=$(has "$1") || fail "${v#FAIL: }"; [ "$v" = "$2" ] || fail "$1: saw '$v', want '$2'"; }

# want_match LABEL ERE: the value contains a match of ERE (anchor it with
# ^ and $ where the whole value counts).
want_match() {
    local v; v=$(has "$1") || fail "${v#FAIL: }"
    [[ $v =~ $2 ]] || fail "$1: saw '$v', want /$2/"
}

# want_re LABEL ERE: the whole value matches ERE.
want_re() { want_match "$1" "^($2)\$"; }

# want_num LABEL CONDITION: the value is a number v for which the awk
# CONDITION holds, e.g. 'v >= 4' or 'v > 0 && v < 1e10'.
want_num() {
    local v; v=$(has "$1") || fail "${v#FAIL: }"
    awk -v v="$v" "BEGIN { exit !(v ~ /^-?[0-9.]+(e[-+]?[0-9]+)?\$/ && ($2)) }" ||
        fail "$1: saw '$v', want $2"
}

# want_between LABEL MIN MAX: an integer in [MIN, MAX]; MAX - means no bound.
want_between() {
    want_re "$1" '-?[0-9]+'
    if [ "$3" = - ]; then want_num "$1" "v >= $2"; else want_num "$1" "v >= $2 && v <= $3"; fi
}

# want_error LABEL RC ERE: a `said` line (svc_lib.sh): the command exited RC
# with nothing on stdout and one line on stderr, which matches ERE.
want_error() { want_re "$1" "exit $2, 0 stdout bytes, 1 stderr lines: ($3)"; }

# want_ok LABEL: a `said` line: the command exited 0 and printed nothing.
want_ok() { want "$1" 'exit 0, 0 stdout bytes, 0 stderr lines: '; }
