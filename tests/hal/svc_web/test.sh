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
# what the page's status said, once the wait for the wanted state is over
# (met or timed out: checkresult judges)
st() { curl -s "$url/api/status" | $PY -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
wait_until 20 status "j['connected'] and j['stream']"
echo "connected: $(st "j['connected']")"
echo "stream: $(st "j['stream']")"
wait_until 20 status "any(s['name']=='web' and s['state']=='running' for s in j['services'] or [])"
echo "service web: $(st "([s['state'] for s in j['services'] or [] if s['name']=='web'] or ['absent'])[0]")"
# the daemon's reaction-time numbers (hal-microkernelctl stats) beside them
wait_until 20 status "any(s['name']=='pinlog' and s.get('stats') and s['stats']['count'] >= 4 and s['stats']['deadline_ns'] == 10000000000 and s['stats']['misses'] == 0 and 0 < s['stats']['p99_le_ns'] < 10000000000 for s in j['services'] or [])"
curl -s "$url/api/status" > status.json
for k in count deadline_ns misses p99_le_ns; do
    echo "pinlog stats $k: $($PY -c "import json,sys; j=json.load(sys.stdin); print(([s['stats'][sys.argv[1]] for s in j['services'] or [] if s['name']=='pinlog' and s.get('stats')] or ['none'])[0])" $k < status.json)"
done
curl -sN "$url/api/events" > ev & cpid=$!
wait_until 20 sh -c 'grep -q "\"i\":0,\"v\":true" ev && grep -q "\"i\":0,\"v\":false" ev'
kill $cpid
yes_no() { "$@" && echo yes || echo no; }
echo "stream clk true: $(yes_no grep -q '"i":0,"v":true' ev)"
echo "stream clk false: $(yes_no grep -q '"i":0,"v":false' ev)"
op() { curl -s -o reply -w '%{http_code}' -X POST -H 'Content-Type: application/json' "$@"; }
echo "granted write cmd 3.5: http $(op -H "X-HMK-Token: $(cat token)" -d '{"pin":"cmd","value":3.5}' "$url/api/write")"
wait_until 20 pin_is microkernel.cmd 3.5
echo "HAL cmd after write: $(getp microkernel.cmd)"
echo "ungranted write other 1: http $(op -H "X-HMK-Token: $(cat token)" -d '{"pin":"other","value":1}' "$url/api/write")"
echo "tokenless write cmd 9: http $(op -d '{"pin":"cmd","value":9}' "$url/api/write")"
echo "HAL other after refusals: $(getp microkernel.other)"
echo "HAL cmd after refusals: $(getp microkernel.cmd)"
# the daemon's services die with it (PR_SET_PDEATHSIG): watch the kill
# from a halweb started by hand
"$svcbin/halweb" --listen 127.0.0.1:0 --control "$sock" 2> web2.log & w2pid=$!
trap 'kill -TERM $w2pid 2>/dev/null; daemon_stop' EXIT
wait_until 20 sh -c "grep -q 'serving http' web2.log" || die "second halweb: $(cat web2.log)"
url=$(sed -n 's|.*serving \(http://127.0.0.1:[0-9]*\)/.*|\1|p' web2.log)
wait_until 20 status "j['connected']" || die "second halweb not connected"
kill -KILL "$dpid"
wait_until 20 status "not j['connected'] and j['fault'] and j['services'] is None"
echo "after daemon kill connected: $(st "j['connected']")"
echo "after daemon kill fault shown: $(st "'yes' if j['fault'] else 'no'")"
echo "after daemon kill services: $(st "j['services']")"
kill -TERM "$w2pid"
wait "$w2pid"
echo "second halweb after SIGTERM: exit $?"
sanitizer_reports
