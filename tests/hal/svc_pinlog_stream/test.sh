# pinlog on the change stream: a bit toggled every servo cycle is logged
# edge by edge; when pinlog is stopped for a while and falls behind a small
# ring, the log says exactly how many changes are missing, where.
. "$HMK_SRC/tests/hal/svc_lib.sh"
check="$PY $HMK_SRC/tests/hal/svc_pinlog_stream/check_stream.py"
run() { # DEPTH PAUSE_MS
    cat > bridge.hal <<HAL
loadrt threads name1=servo-thread period1=1000000
loadrt charge_pump
loadrt hal_microkernel_bridge count=0 pins=t:bit:in stream_depth=$1
addf charge-pump servo-thread
addf microkernel.read servo-thread
net tog charge-pump.out => microkernel.t
start
HAL
    hal_load bridge.hal
    rm -f log.jsonl
    { daemon_ini; printf '[service pinlog]\nexec = %s/pinlog --out %s/log.jsonl --sync-ms 100 t\nready = fd\nwrites = none\n' "$svcbin" "$HMK_WORK"; } > hmk.ini
    daemon_start hmk.ini
    local pid; pid=$(wait_running pinlog)
    wait_cycles 1000
    if [ "$2" -gt 0 ]; then
        kill -STOP "$pid"; wait_cycles "$2"; kill -CONT "$pid"
    fi
    wait_cycles 1000
    "$ctl" -s "$sock" stop pinlog >/dev/null || die "ctl stop"
    wait_output 10 stopped svc_field pinlog state || die "pinlog did not stop"
    daemon_stop
    $check log.jsonl t || die "depth $1 pause $2: $($check log.jsonl t 2>&1)"
    halrun -U >>"$HMK_WORK/hal.log" 2>&1 </dev/null
}
run 65536 0
read -r _ n _ lost _ span < <($check log.jsonl t)
[ "$lost" = 0 ] || die "pinlog keeping up lost $lost"
[ "$n" -ge 1900 ] || die "only $n records over 2000 cycles"
echo "keeping up: records $n lost 0 span $span"
run 16 300
read -r _ n _ lost _ span < <($check log.jsonl t)
[ "$lost" -gt 0 ] || die "pinlog stopped 300 cycles behind a 16-record ring lost nothing"
echo "fell behind: records $n + lost $lost = span $span"
svc_clean
