#!/bin/bash
# Tests of services/web (halweb) without HAL: a fake region with a change
# stream (hmk-web-region), the service on a free port, curl and a real
# headless Chromium as clients.
#   run.sh TEST HALWEB REGIONTOOL        TEST: http abuse slow browser
# Waits are on conditions with generous deadlines, never blind sleeps.
# Exit 0 pass, 1 fail, 77 skip.
set -u
TEST=$1 WEB=$2 RT=$3
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/hmk-web-$TEST.XXXXXX)
chmod 755 "$T"
REGION=hmkweb-$$-$RANDOM
LOG=$T/web.log
WPID= BPID= PIDS=()
PORT=
export HAL_MICROKERNEL_REGION=$REGION

cleanup() {
    for p in "${PIDS[@]}" $BPID $WPID; do kill -TERM "$p" 2>/dev/null; done
    wait 2>/dev/null
    "$RT" detach "$REGION" 2>/dev/null
    rm -f "/dev/shm/$REGION" "/dev/shm/$REGION.waiters" "/dev/shm/$REGION.stream" \
          "/dev/shm/.$REGION.webtest"
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    echo "--- halweb log"; tail -n 40 "$LOG" 2>/dev/null
    exit 1
}
within() {
    local end=$(( $(date +%s%N) + $1 * 1000000000 )); shift
    until "$@"; do
        [ "$(date +%s%N)" -gt "$end" ] && return 1
        sleep 0.02
    done
}
wait_for() {
    local limit=$1 desc=$2; shift 2
    within "$limit" "$@" || fail "timed out after ${limit}s waiting for: $desc"
}

make_token() {
    head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$T/token"
    chmod 600 "$T/token"
}

# start_web [ARGS...]: halweb on a free port of 127.0.0.1; sets PORT, URL
start_web() {
    : >"$LOG"
    "$WEB" -l 127.0.0.1:0 -c none "$@" 2>>"$LOG" &
    WPID=$!
    wait_for 20 "halweb to listen" grep -q 'serving http' "$LOG"
    PORT=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$LOG" | head -1)
    URL=http://127.0.0.1:$PORT
}
stop_web() {
    kill -TERM "$WPID"
    local rc=0
    wait "$WPID" || rc=$?
    WPID=
    [ "$rc" = 0 ] || fail "halweb exited $rc after SIGTERM"
}
beat_on() { "$RT" beat "$REGION" 50 & BPID=$!; }
beat_off() { kill -TERM "$BPID"; wait "$BPID" 2>/dev/null; BPID=; }

# jq-free JSON checks: py EXPR reads the JSON on stdin as `j`
py() { python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }
status_is() { curl -sf "$URL/api/status" | py "$1"; }
# post PATH BODY [CURL ARGS...]: prints "CODE BODY"
post() {
    local path=$1 body=$2; shift 2
    curl -s -o "$T/reply" -w '%{http_code}' -X POST --data-binary "$body" "$@" "$URL$path"
    printf ' %s' "$(cat "$T/reply")"
}
op() { post "$@" -H "X-HMK-Token: $(cat "$T/token")" -H 'Content-Type: application/json'; }
out_is() { [ "$("$RT" out "$REGION" "$1")" = "$2" ]; }
expect() { # expect CODE TEXT REPLY
    case "$3" in "$1 "*"$2"*) ;; *) fail "wanted $1 with '$2', got: $3" ;; esac
}
poke_until() { "$RT" set "$REGION" 0 "$RANDOM"; status_is "$1"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$WPID/status"; }

. "$HERE/tests.sh"

case $TEST in
http|abuse|slow|browser) "t_$TEST" ;;
*) echo "unknown test $TEST"; exit 2 ;;
esac
echo "PASS: $TEST"
