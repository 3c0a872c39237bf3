# judge_lib.sh - helpers for tests/hal/*/checkresult, which judge the
# observation lines ("KEY: VALUE") a test.sh printed about what it saw.
# Sourced, never run. A failed judgement prints one line saying what is
# wrong and exits 1.
result=${1:?usage: checkresult RESULT-FILE}

# seen KEY: the value of the first "KEY: VALUE" line; fails if there is none.
seen() {
    awk -v k="$1: " 'index($0, k) == 1 { print substr($0, length(k) + 1); f = 1; exit } END { exit !f }' "$result"
}

# has KEY: the value, or a verdict saying the line is missing.
has() { seen "$1" || { echo "no '$1:' line"; exit 1; }; }

# want KEY VALUE: the value is exactly VALUE.
want() {
    local v; v=$(has "$1") || { echo "$v"; exit 1; }
    [ "$v" = "$2" ] || { echo "$1: '$v', want '$2'"; exit 1; }
}

# want_num KEY CONDITION: the value is a number v for which the awk
# CONDITION holds, e.g. 'v >= 4' or 'v > 0 && v < 1e10'.
want_num() {
    local v; v=$(has "$1") || { echo "$v"; exit 1; }
    awk -v v="$v" "BEGIN { exit !(v ~ /^-?[0-9.]+(e[-+]?[0-9]+)?\$/ && ($2)) }" ||
        { echo "$1: '$v', want $2"; exit 1; }
}

# want_re KEY ERE: the value matches the extended regex ERE (anchored).
want_re() {
    local v; v=$(has "$1") || { echo "$v"; exit 1; }
    [[ $v =~ ^($2)$ ]] || { echo "$1: '$v', want /$2/"; exit 1; }
}

# want_error KEY RC ERE: a `said` line: the command exited RC with nothing on
# stdout and one line on stderr, which matches ERE (anchored).
want_error() { want_re "$1" "exit $2, 0 stdout bytes, 1 stderr lines: ($3)"; }

# want_ok KEY: a `said` line: the command exited 0 and printed nothing.
want_ok() { want "$1" 'exit 0, 0 stdout bytes, 0 stderr lines: '; }
