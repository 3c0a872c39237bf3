# check_lib.sh - helpers for tests/hal/*/checkresult. Sourced, never run.
# test.sh writes what it saw as "LABEL: VALUE" lines and judges nothing;
# checkresult, called with that output file, judges them here and on a
# failure prints one line saying what is wrong.
result=${1:?usage: checkresult OUTPUT-FILE}

fail() { echo "FAIL: $*"; exit 1; }

# seen LABEL: the value of the first "LABEL: VALUE" line (nothing if none).
seen() { awk -v l="$1: " 'index($0, l) == 1 { print substr($0, length(l) + 1); exit }' "$result"; }

# want LABEL VALUE: the line is exactly "LABEL: VALUE".
want() { local v; v=$(seen "$1"); [ "$v" = "$2" ] || fail "$1: saw '${v:-nothing}', want '$2'"; }

# want_match LABEL ERE: the value matches the extended regex ERE.
want_match() { local v; v=$(seen "$1"); [[ $v =~ $2 ]] || fail "$1: saw '${v:-nothing}', want /$2/"; }

# want_between LABEL MIN MAX: the value is an integer in [MIN, MAX]; a
# MAX of - means no upper bound.
want_between() {
    local v; v=$(seen "$1")
    [[ $v =~ ^-?[0-9]+$ ]] || fail "$1: saw '${v:-nothing}', want a number"
    [ "$v" -ge "$2" ] || fail "$1: $v, want at least $2"
    [ "$3" = - ] || [ "$v" -le "$3" ] || fail "$1: $v, want at most $3"
}
