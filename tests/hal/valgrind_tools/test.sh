# The tools and a service under valgrind memcheck against a real HAL and
# daemon: no leak, no error, on good and bad input alike.
. "$HMK_SRC/tests/hal/svc_lib.sh"
command -v valgrind >/dev/null || die "valgrind is not installed"
case "$(nm "$HMK_BIN/halpoke" 2>/dev/null)" in
*__asan_init*) echo "valgrind: skipped in a sanitizer build"; exit 0 ;;
esac
vg() { valgrind -q --leak-check=full --errors-for-leak-kinds=all --error-exitcode=99 "$@"; }
bridge_load "x:float:io,b:bit:out,s:s32:in"
# short paths: a config line holds at most 198 characters, build trees can be deep
ln -s "$svcbin/pinlog" "$HMK_WORK/pl"
{ daemon_ini; printf '[service log]\nexec = valgrind %s/pl --out %s/log.jsonl x s\nready = fd\nwrites = none\nenv = PATH=/usr/bin:/bin\nenv = VALGRIND_OPTS=-q --leak-check=full --errors-for-leak-kinds=all --log-file=%s/pinlog.vg\n' "$HMK_WORK" "$HMK_WORK" "$HMK_WORK"; } > hmk.ini
daemon_start hmk.ini
wait_running log >/dev/null
# what each run did: its exit status (99: valgrind found an error or a
# leak) and how many valgrind report lines it printed; checkresult judges
# (the reports themselves go to stderr)
vg_said() { # LABEL: the command just run wrote vg.err and exited $rc
    echo "$1: exit $rc, valgrind lines $(grep -c '^==' vg.err)"
    grep '^==' vg.err >&2
}
for args in "--list" "x" "x 2.5 b true" "--watch -n 3 -t 5 x" "nosuch 1" "x abc" "s 5" "-r nosuch x"; do
    # shellcheck disable=SC2086
    vg halpoke $args >/dev/null 2>vg.err; rc=$?
    vg_said "halpoke $args"
done
hal_cmd setp microkernel.s 7
vg "$ctl" -s "$sock" status >/dev/null 2>vg.err; rc=$?
vg_said "ctl status"
vg "$ctl" -s "$sock" --json status log >/dev/null 2>vg.err; rc=$?
vg_said "ctl --json status log"
vg "$ctl" -s "$sock" restart nosuch >/dev/null 2>vg.err; rc=$?
vg_said "ctl restart nosuch"
"$ctl" -s "$sock" stop log >/dev/null || die "ctl stop"
wait_output 10 stopped svc_field log state || die "pinlog did not stop"
echo "pinlog valgrind log bytes: $(cat pinlog.vg 2>/dev/null | wc -c)"
cat pinlog.vg >&2 2>/dev/null
true
