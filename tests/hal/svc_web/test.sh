# halweb against a real HAL and the daemon: siggen's clock toggles a bit
# HAL feeds; the event stream shows both edges; the operator writes the
# granted out pin and HAL's pin follows (halcmd getp); an ungranted pin and
# a request without the token are refused; the daemon's services are
# listed, with their reaction-time stats; killing the daemon turns "connected" off (and shows the fault).
. "$HMK_SRC/tests/hal/svc_lib.sh"
cat > bridge.hal <<HAL
loadrt threads name1=servo-thread period1=1000000
loadrt siggen
loadrt hal_microkernel_bridge count=0 pins=clk:bit:in,cmd:float:out,other:float:out
addf siggen.0.update servo-thread
addf microkernel.update servo-thread
setp siggen.0.frequency 4
net clk siggen.0.clock => microkernel.clk
start
HAL
hal_load bridge.hal
head -c 24 /dev/urandom | base64 | tr -d '/+=\n' > token
chmod 600 token
# pinlog follows the clock with a deadline (10 s: far above any reaction, even on a busy machine): its reaction times are shown
{ daemon_ini; printf '[service web]\nexec = %s/halweb --listen 127.0.0.1:0 --token-file %s/token --control %s\nready = fd\nwrites = cmd\n' \
    "$svcbin" "$HMK_WORK" "$sock"
  printf '[service pinlog]\nexec = %s/pinlog --out %s/pins.jsonl clk\nready = fd\ndeadline = 10s\n' \
    "$svcbin" "$HMK_WORK"; } > hmk.ini
daemon_start hmk.ini
wpid=$(wait_running web)
trap 'kill -TERM $wpid 2>/dev/null; daemon_stop' EXIT
url_of() { sed -n 's|.*serving \(http://127.0.0.1:[0-9]*\)/.*|\1|p' daemon.log | tail -1; }
wait_until 20 sh -c "grep -q 'serving http' daemon.log" || die "halweb printed no URL: $(tail -n 5 daemon.log)"
url=$(url_of)
status() { curl -sf "$url/api/status" | $PY -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }
wait_until 20 status "j['connected'] and j['stream']" || die "not connected on the change stream: $(curl -s "$url/api/status")"
wait_until 20 status "any(s['name']=='web' and s['state']=='running' for s in j['services'] or [])" ||
    die "services not listed: $(curl -s "$url/api/status")"
# the daemon's reaction-time numbers (hal-microkernelctl stats) beside them
wait_until 20 status "any(s['name']=='pinlog' and s.get('stats') and s['stats']['count'] >= 4 and s['stats']['deadline_ns'] == 10000000000 and s['stats']['misses'] == 0 and 0 < s['stats']['p99_le_ns'] < 10000000000 for s in j['services'] or [])" ||
    die "pinlog's stats not shown: $(curl -s "$url/api/status")"
echo "stats: pinlog's reactions shown with its 10 s deadline, none missed"
curl -sN "$url/api/events" > ev & cpid=$!
wait_until 20 sh -c 'grep -q "\"i\":0,\"v\":true" ev && grep -q "\"i\":0,\"v\":false" ev' ||
    { kill $cpid; die "siggen's edges not in the stream: $(tail -c 400 ev)"; }
kill $cpid
echo "stream: both edges of siggen's clock seen"
op() { curl -s -o reply -w '%{http_code}' -X POST -H 'Content-Type: application/json' "$@"; }
[ "$(op -H "X-HMK-Token: $(cat token)" -d '{"pin":"cmd","value":3.5}' "$url/api/write")" = 200 ] ||
    die "granted write: $(cat reply)"
wait_until 20 pin_is microkernel.cmd 3.5 || die "HAL's cmd is $(getp microkernel.cmd), not 3.5"
echo "write: microkernel.cmd = $(getp microkernel.cmd)"
[ "$(op -H "X-HMK-Token: $(cat token)" -d '{"pin":"other","value":1}' "$url/api/write")" = 403 ] ||
    die "ungranted write not refused: $(cat reply)"
[ "$(op -d '{"pin":"cmd","value":9}' "$url/api/write")" = 401 ] || die "tokenless write not refused: $(cat reply)"
pin_is microkernel.other 0 && pin_is microkernel.cmd 3.5 || die "a refused write changed HAL"
echo "refused: ungranted pin, no token"
# the daemon's services die with it (PR_SET_PDEATHSIG): watch the kill
# from a halweb started by hand
"$svcbin/halweb" --listen 127.0.0.1:0 --control "$sock" 2> web2.log & w2pid=$!
trap 'kill -TERM $w2pid 2>/dev/null; daemon_stop' EXIT
wait_until 20 sh -c "grep -q 'serving http' web2.log" || die "second halweb: $(cat web2.log)"
url=$(sed -n 's|.*serving \(http://127.0.0.1:[0-9]*\)/.*|\1|p' web2.log)
wait_until 20 status "j['connected']" || die "second halweb not connected"
kill -KILL "$dpid"
wait_until 20 status "not j['connected'] and j['fault'] and j['services'] is None" ||
    die "still connected after the daemon died: $(curl -s "$url/api/status")"
echo "daemon killed: disconnected"
kill -TERM "$w2pid"
wait "$w2pid" || die "halweb exited $? after SIGTERM"
svc_clean
