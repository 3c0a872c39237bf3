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
for args in "--list" "x" "x 2.5 b true" "--watch -n 3 -t 5 x" "nosuch 1" "x abc" "s 5" "-r nosuch x"; do
    # shellcheck disable=SC2086
    vg halpoke $args >/dev/null 2>vg.err; rc=$?
    [ $rc -ne 99 ] || die "halpoke $args: valgrind: $(cat vg.err)"
    grep -q '^==' vg.err && die "halpoke $args: $(cat vg.err)"
    echo "halpoke $args: clean (exit $rc)"
done
hal_cmd setp microkernel.s 7
vg "$ctl" -s "$sock" status >/dev/null 2>vg.err || die "ctl status: $(cat vg.err)"
vg "$ctl" -s "$sock" --json status log >/dev/null 2>vg.err || die "ctl --json: $(cat vg.err)"
vg "$ctl" -s "$sock" restart nosuch >/dev/null 2>vg.err; [ $? -ne 99 ] || die "ctl restart nosuch: $(cat vg.err)"
echo "hal-microkernelctl: clean"
"$ctl" -s "$sock" stop log >/dev/null || die "ctl stop"
wait_output 10 stopped svc_field log state || die "pinlog did not stop"
[ ! -s pinlog.vg ] || die "pinlog under valgrind: $(cat pinlog.vg)"
echo "pinlog: clean"
