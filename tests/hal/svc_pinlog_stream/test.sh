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
    # what the log's check said; checkresult judges it
    $check log.jsonl t >check.out 2>check.err
    echo "depth $1 pause $2 check exit: $?"
    echo "depth $1 pause $2 check stderr: $(wc -l <check.err) lines$(head -n 1 check.err | sed 's/^/, first: /')"
    echo "depth $1 pause $2: $(cat check.out)"
    halrun -U >>"$HMK_WORK/hal.log" 2>&1 </dev/null
}
run 65536 0
run 16 300
sanitizer_reports
