# The tests run.sh runs (sourced by it: its helpers are in scope).

# Options, -n, the page, the API, the live stream, the connected judgement,
# writes only as granted and only for the operator, every refusal a JSON
# error that changes nothing, and re-attach after the region comes back.
t_http() {
    make_token
    "$WEB" -n -t "$T/token" >"$T/n" 2>&1 || fail "-n with a good token: $(cat "$T/n")"
    grep -q 'configuration OK' "$T/n" || fail "-n says: $(cat "$T/n")"
    "$WEB" -n -l 'localhost;rm:80' 2>"$T/n" && fail "-n accepted a bad --listen"
    grep -q "'localhost;rm:80'" "$T/n" || fail "bad --listen not named: $(cat "$T/n")"
    cp "$T/token" "$T/open"; chmod 644 "$T/open"
    "$WEB" -n -t "$T/open" 2>"$T/n" && fail "-n accepted a world-readable token file"
    grep -q "$T/open.*others" "$T/n" || fail "token file mode not named: $(cat "$T/n")"
    "$WEB" -n -t "$T/none" 2>"$T/n" && fail "-n accepted a missing token file"
    "$WEB" -n --fps 0 2>"$T/n" && fail "-n accepted --fps 0"
    grep -q -- "--fps: '0'" "$T/n" || fail "bad --fps not named: $(cat "$T/n")"

    "$RT" create "$REGION" 4 || fail "create region"
    HMK_WRITE_PINS=pin.2,lamp start_web -t "$T/token"
    curl -sf "$URL/" | grep -q '<title>HAL pins' || fail "GET / is not the page"
    curl -sfI "$URL/app.js" | grep -qi '^Content-Type: text/javascript' || fail "app.js type"
    curl -sfI "$URL/style.css" | grep -qi '^Content-Type: text/css' || fail "style.css type"
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/nope")" = 404 ] || fail "no 404"
    wait_for 20 "7 pins in /api/pins" sh -c "curl -sf $URL/api/pins | python3 -c \"import json,sys; j=json.load(sys.stdin); sys.exit(len(j['pins'])!=7)\""
    curl -sf "$URL/api/pins" | py "j['pins'][4]['name']=='lamp' and j['pins'][4]['type']=='bit' and j['pins'][6]['dir']=='in'" ||
        fail "pin table: $(curl -s "$URL/api/pins")"
    # w: what hmk_write_granted says, the page's controls follow it
    curl -sf "$URL/api/pins" | py "j['pins'][2]['w'] and j['pins'][4]['w'] and not j['pins'][1]['w'] and 'w' not in j['pins'][6]" ||
        fail "granted flags: $(curl -s "$URL/api/pins")"

    # the live stream: a snapshot, then a delta keyed by index with its cycle
    curl -sN "$URL/api/events" >"$T/ev" & PIDS+=($!)
    wait_for 20 "snapshot event" grep -q '^event: snapshot' "$T/ev"
    "$RT" set "$REGION" 1 3.25
    wait_for 20 "delta of pin 1" grep -q '"i":1,"v":3.25' "$T/ev"
    grep '^data: {"ver"' "$T/ev" | tail -1 | sed 's/^data: //' | py "j['pins'][0]['i']==1 and j['cycle']>=1" ||
        fail "delta shape: $(tail -2 "$T/ev")"
    "$RT" set "$REGION" 6 -42
    wait_for 20 "s32 delta" grep -q '"i":6,"v":-42' "$T/ev"

    # connected is decided by the heartbeat; a lost daemon shows a fault
    status_is "j['attached'] and not j['connected']" || fail "connected without a heartbeat"
    beat_on
    wait_for 20 "connected" status_is "j['connected'] and not j['fault']"
    beat_off
    wait_for 20 "disconnected + fault" status_is "not j['connected'] and j['fault']"
    grep -q '"fault":true' "$T/ev" || wait_for 20 "status event" grep -q '"fault":true' "$T/ev"

    # writes: granted pin, by the operator
    expect 200 '"ok":true' "$(op /api/write '{"pin":"pin.2","value":7.5}')"
    wait_for 20 "pin.2 out 7.5" out_is 2 7.5
    wait_for 20 "out value in the stream" grep -q '"i":2,"v":0,"o":7.5' "$T/ev"
    grep -q 'write pin.2 = 7.5 (operator at 127.0.0.1' "$LOG" || fail "write not logged"
    # refusals, each changing nothing
    expect 403 'not in its writes = grant' "$(op /api/write '{"pin":"pin.1","value":9}')"
    expect 403 'HAL feeds it' "$(op /api/write '{"pin":"estop","value":true}')"
    expect 401 'read-only role' "$(post /api/write '{"pin":"pin.2","value":1}' -H 'Content-Type: application/json')"
    expect 403 'wrong operator token' "$(post /api/write '{"pin":"pin.2","value":1}' -H 'X-HMK-Token: 0123456789abcdefXX' -H 'Content-Type: application/json')"
    expect 403 'cross-origin' "$(op /api/write '{"pin":"pin.2","value":1}' -H 'Origin: http://evil.example')"
    expect 415 'application/json' "$(post /api/write '{"pin":"pin.2","value":1}' -H "X-HMK-Token: $(cat "$T/token")" -H 'Content-Type: application/x-www-form-urlencoded')"
    expect 400 'malformed JSON' "$(op /api/write '{"pin":"pin.2","value":')"
    expect 404 "unknown pin 'nosuch'" "$(op /api/write '{"pin":"nosuch","value":1}')"
    expect 400 "'abc' is not a float" "$(op /api/write '{"pin":"pin.2","value":"abc"}')"
    expect 400 "is not a bit" "$(op /api/write '{"pin":"lamp","value":2}')"
    expect 405 'method not allowed' "$(curl -s -o /dev/stdout -w '' "$URL/api/write" | sed 's/^/405 /')"
    out_is 2 7.5 || fail "a refused write changed pin.2"
    out_is 1 0 || fail "a refused write changed pin.1"
    # civetweb must not grant CORS preflights (it would answer with "*")
    curl -s -i -X OPTIONS -H 'Origin: http://evil.example' -H 'Access-Control-Request-Method: POST' \
        -H 'Access-Control-Request-Headers: x-hmk-token' "$URL/api/write" >"$T/pre"
    grep -qi '^Access-Control-Allow' "$T/pre" && fail "preflight granted: $(cat "$T/pre")"
    # the stream refuses other origins, too
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://evil.example' "$URL/api/events")" = 403 ] ||
        fail "cross-origin event stream served"

    # re-attach: the region goes away and comes back with a new layout
    "$RT" detach "$REGION"
    wait_for 20 "detached" status_is "not j['attached']"
    "$RT" create "$REGION" 3 || fail "create again"
    wait_for 20 "re-attached, 6 pins" sh -c "curl -sf $URL/api/pins | python3 -c \"import json,sys; j=json.load(sys.stdin); sys.exit(len(j['pins'])!=6)\""
    wait_for 20 "a new snapshot on the open stream" sh -c "[ \$(grep -c '^event: snapshot' $T/ev) -ge 3 ]"
    stop_web

    # a service without a token file never writes, and says so per pin
    start_web
    wait_for 20 "pins" sh -c "curl -sf $URL/api/pins | grep -q lamp"
    curl -sf "$URL/api/pins" | py "not any(p.get('w') for p in j['pins'])" || fail "writable without a token"
    expect 403 'writes are off' "$(op /api/write '{"pin":"pin.0","value":1}')"
    stop_web
}

# Bad and hostile input: oversized bodies, too many streams, 1000
# half-open connections; the service answers or drops each, keeps serving
# and its memory stays bounded.
t_abuse() {
    make_token
    "$RT" create "$REGION" 4 || fail "create region"
    HMK_WRITE_PINS=pin.2 start_web -t "$T/token" --max-clients 4 --send-timeout 1000
    head -c 100000 /dev/zero | tr '\0' 'x' >"$T/big"
    expect 413 'too large' "$(op /api/write "@$T/big")"
    expect 400 'must be a JSON object' "$(op /api/write '[1,2,3]')"
    expect 400 'cut short' "$(curl -s -m 10 -o /dev/stdout -X POST -H "X-HMK-Token: $(cat "$T/token")" \
        -H 'Content-Type: application/json' -H 'Content-Length: 100' --data-binary '{"pin"' "$URL/api/write" | sed 's/^/400 /')"
    # streams beyond --max-clients get a JSON 503, the others keep going
    for i in 1 2 3 4; do curl -sN "$URL/api/events" >"$T/s$i" & PIDS+=($!); done
    wait_for 20 "4 streams" status_is "j['clients']==4"
    [ "$(curl -s -o "$T/r" -w '%{http_code}' "$URL/api/events")" = 503 ] || fail "5th stream not refused"
    grep -q 'too many live clients' "$T/r" || fail "503 without a JSON error"
    for p in "${PIDS[@]}"; do kill "$p"; done; PIDS=()
    # a stream learns its browser left when a write fails: changes or the
    # keepalive make it write
    wait_for 40 "streams gone" poke_until "j['clients']==0"
    local before after
    before=$(rss_kb)
    python3 "$HERE/halfopen.py" 127.0.0.1 "$PORT" 1000 60 "$URL/api/status" >"$T/ho" 2>&1 ||
        fail "half-open: $(cat "$T/ho")"
    cat "$T/ho"
    after=$(rss_kb)
    echo "rss before ${before} kB, after 1000 half-open connections ${after} kB"
    [ "$after" -lt $((before + 65536)) ] || fail "memory grew by $((after - before)) kB"
    status_is "j['attached']" || fail "not serving after the half-open connections"
    expect 200 '"ok":true' "$(op /api/write '{"pin":"pin.2","value":1}')"
    stop_web
}

# A client that stops reading must not stall the others or the watcher:
# it is dropped with a log line, the fast client keeps its frame rate.
t_slow() {
    "$RT" create "$REGION" 1000 || fail "create region"
    start_web --send-timeout 1000
    # the storm outlasts the reader (25 s) and the drain (up to 30 s) even
    # when python starts slowly; it is stopped below
    "$RT" storm "$REGION" 200 150 & PIDS+=($!)
    python3 "$HERE/slowclient.py" 127.0.0.1 "$PORT" 25 >"$T/slow" 2>&1 ||
        fail "slow client: $(cat "$T/slow")"
    cat "$T/slow"
    grep -q "too slow" "$LOG" || fail "the stalled client was not dropped with a log line"
    status_is "j['dropped']>=1" || fail "dropped count not shown"
    kill "${PIDS[0]}"; PIDS=()
    stop_web
}

# A real browser: Debian's chromium, headless, driven by puppeteer-core.
t_browser() {
    [ -x /usr/bin/chromium ] || { echo "SKIP: no /usr/bin/chromium (scripts/deps.sh)"; exit 77; }
    (cd "$HERE" && npm ci --no-audit --no-fund --silent) >"$T/npm" 2>&1 || {
        cat "$T/npm"; fail "npm ci"
    }
    make_token
    "$RT" create "$REGION" 4 || fail "create region"
    HMK_WRITE_PINS=pin.2 start_web -t "$T/token"
    beat_on
    BEAT_PID=$BPID ARTIFACTS=${HMK_ARTIFACTS:-$PWD} TOKEN=$(cat "$T/token") URL=$URL RT=$RT REGION=$REGION \
        node "$HERE/browser.mjs" >"$T/b" 2>&1 || { cat "$T/b"; fail "browser test"; }
    cat "$T/b"
    stop_web
}
