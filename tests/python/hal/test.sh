# halmk under a real HAL: the write path and the rest of the API
# (hal_checks.py), then a Python service (coolant-follow) supervised by the
# daemon: ready, writes, connected, idle without CPU, restarted after
# SIGKILL, re-attached after a bridge reload, clean SIGTERM.
. "$HMK_SRC/tests/hal/svc_lib.sh"
export PYTHONPATH=${HMK_PYTHONPATH:?}
# an ASan build's module needs ASan's runtime loaded first: only into Python
PYX=$PY
[ -n "${HMK_PY_PRELOAD:-}" ] && PYX="/usr/bin/env LD_PRELOAD=$HMK_PY_PRELOAD ASAN_OPTIONS=detect_leaks=0 $PY"
pins=speed:float:in,spindle-at-speed:bit:in,coolant:bit:out,count:s32:out,mask:u32:out,x:float:out,y:float:out,trig:bit:out
cf=$HMK_SRC/services/coolant-follow/coolant-follow

bridge_load "$pins"
$PYX "$HMK_SRC/tests/python/hal/hal_checks.py" || die "hal_checks.py failed"
hal_cmd setp microkernel.spindle-at-speed 0

# bad input: one line, exit 2
one_line_error 2 $PYX "$cf" --on-delay x | grep -q "'x' is not a number" || die "bad --on-delay"
one_line_error 1 $PYX "$cf" --at-speed nosuch | grep -q "'nosuch'" || die "unknown pin"
echo "coolant-follow: bad input refused in one line"

{ daemon_ini; cat <<INI
[service coolant-follow]
exec = $PY $cf --on-delay 0.2
ready = fd
restart = always
backoff-initial = 100ms
env = PYTHONPATH=$PYTHONPATH
$([ -n "${HMK_PY_PRELOAD:-}" ] && printf 'env = LD_PRELOAD=%s\nenv = ASAN_OPTIONS=detect_leaks=0' "$HMK_PY_PRELOAD")
writes = coolant
INI
} > hmk.ini
daemon_start hmk.ini
pid=$(wait_running coolant-follow)
wait_until 10 $PYX -c 'import halmk, sys; sys.exit(not halmk.open().connected)' \
    || die "region not connected under the daemon"
echo "connected under the daemon: True"

follows() {
    hal_cmd setp microkernel.spindle-at-speed 1
    wait_until 10 pin_is microkernel.coolant TRUE || die "coolant did not follow at-speed ($1)"
    hal_cmd setp microkernel.spindle-at-speed 0
    wait_until 10 pin_is microkernel.coolant FALSE || die "coolant did not go off ($1)"
}
follows "first start"
echo "coolant follows spindle-at-speed"

read -r ticks woke <<<"$(idle_cpu "$pid" 5)"
echo "idle coolant-follow: $ticks CPU ticks, $woke wake-ups in 5 s"
[ "$ticks" -le 5 ] && [ "$woke" -le 5 ] || die "idle Python service is not idle"

kill -9 "$pid"
pid2=$(wait_running coolant-follow "$pid")
follows "after SIGKILL"
echo "restarted after SIGKILL (new pid), follows again"

bridge_reload "$pins"
follows "after bridge reload"
[ "$(svc_pid coolant-follow)" = "$pid2" ] || die "restarted instead of re-attached"
echo "re-attached after bridge reload (same pid)"

hal_cmd setp microkernel.spindle-at-speed 1
wait_until 10 pin_is microkernel.coolant TRUE || die "coolant not on before stop"
"$ctl" -s "$sock" stop coolant-follow >/dev/null || die "ctl stop"
wait_output 10 stopped svc_field coolant-follow state || die "did not stop"
wait_until 10 pin_is microkernel.coolant FALSE || die "on_stop did not switch coolant off"
echo "SIGTERM: clean stop ($(svc_field coolant-follow last_exit)), coolant off"
svc_clean
