#!/bin/bash
. "$(dirname "$0")/../lib.sh"

# A few scenarios again with the daemon under valgrind: any memory error or
# leak makes it exit 42 instead of 0 (pidfds and close_range are unknown to
# valgrind: the daemon falls back to signalling its unreaped children by pid)
t_valgrind() {
    command -v valgrind >/dev/null || { echo "valgrind missing"; exit 77; }
    printf '#!/bin/sh\nexec valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --show-leak-kinds=definite,indirect,possible --error-exitcode=42 "%s" "$@"\n' "$DAEMON" >"$T/vg.sh"
    chmod +x "$T/vg.sh"
    local t
    for t in reload reload_bad crash_limit stop_timeout exec_missing region ctl_perm; do
        "$(dirname "$0")/$t.sh" "$T/vg.sh" "$CTL" "$SVC" "$NOTIFY" "$RTOOL" >"$T/vg-$t.out" 2>&1 ||
            { cat "$T/vg-$t.out"; fail "$t under valgrind"; }
        echo "valgrind: $t clean"
    done
}

it_main
