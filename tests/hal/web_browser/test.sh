# The dashboard in a real browser against a real HAL: siggen's clock
# toggles a bit the bridge takes in; the daemon supervises halweb with
# `writes = cmd` and an operator token file; Debian's headless chromium
# (puppeteer-core, tests/web/hal_browser.mjs) sees every toggle on screen
# and times each from the bridge's stamp of its cycle to the DOM (at most
# 200 ms), writes cmd as operator and HAL follows (halcmd getp), is refused
# without the token (HAL unchanged), and sees "disconnected" when the
# daemon is killed. Screenshots: the work dir and $HMK_BIN/artifacts.
# Without /usr/bin/chromium it prints a SKIP line and passes.
. "$HMK_SRC/tests/hal/svc_lib.sh"
if [ ! -x /usr/bin/chromium ]; then
    echo "SKIP: no /usr/bin/chromium (scripts/deps.sh installs it from scripts/deps.d/web.list)"
    exit 0
fi
command -v node >/dev/null && command -v npm >/dev/null || die "no node/npm for the browser driver"
(cd "$HMK_SRC/tests/web" && npm ci --no-audit --no-fund --silent) >npm.log 2>&1 || die "npm ci: $(tail -n 5 npm.log)"
cat > bridge.hal <<HAL
loadrt threads name1=servo-thread period1=1000000
loadrt siggen
loadrt hal_microkernel_bridge count=0 pins=clk:bit:in,cmd:float:out,other:float:out
addf siggen.0.update servo-thread
addf microkernel.update servo-thread
setp siggen.0.frequency 2
net clk siggen.0.clock => microkernel.clk
start
HAL
hal_load bridge.hal
head -c 24 /dev/urandom | base64 | tr -d '/+=\n' > token
chmod 600 token
# pinlog follows the clock with a deadline: the page shows its reaction times
{ daemon_ini; printf '[service web]\nexec = %s/halweb --listen 127.0.0.1:0 --token-file %s/token --control %s\nready = fd\nwrites = cmd\n' \
    "$svcbin" "$HMK_WORK" "$sock"
  printf '[service pinlog]\nexec = %s/pinlog --out %s/pins.jsonl clk\nready = fd\ndeadline = 10s\n' \
    "$svcbin" "$HMK_WORK"; } > hmk.ini
daemon_start hmk.ini
wait_running web >/dev/null
wait_until 20 sh -c "grep -q 'serving http' daemon.log" || die "halweb printed no URL: $(tail -n 5 daemon.log)"
url=$(sed -n 's|.*serving \(http://127.0.0.1:[0-9]*\)/.*|\1|p' daemon.log | tail -1)
# a read-only halweb of our own: the daemon's services die with it
# (PR_SET_PDEATHSIG), this one stays to show the daemon gone
"$svcbin/halweb" --listen 127.0.0.1:0 --control "$sock" 2> web2.log & w2pid=$!
trap 'kill -TERM $w2pid 2>/dev/null; daemon_stop' EXIT
wait_until 20 sh -c "grep -q 'serving http' web2.log" || die "second halweb: $(cat web2.log)"
url2=$(sed -n 's|.*serving \(http://127.0.0.1:[0-9]*\)/.*|\1|p' web2.log)
status() { curl -sf "$1/api/status" | $PY -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($2) else 1)"; }
wait_until 20 status "$url" "j['connected'] and j['stream']" || die "not connected: $(curl -s "$url/api/status")"
art=${HMK_ARTIFACTS:-$HMK_BIN/artifacts}
# the driver prints what the page showed; checkresult judges it
URL=$url URL2=$url2 TOKEN=$(cat token) DAEMON_PID=$dpid ARTIFACTS=$HMK_WORK \
    timeout 300 node "$HMK_SRC/tests/web/hal_browser.mjs" > browser.log 2>&1
echo "browser driver: exit $?"
cat browser.log
mkdir -p "$art" && cp halweb-hal.png halweb-hal-disconnected.png "$art/" &&
    echo "artifacts: $art/halweb-hal.png $art/halweb-hal-disconnected.png"
kill -TERM "$w2pid"
wait "$w2pid"
echo "second halweb after SIGTERM: exit $?"
sanitizer_reports
