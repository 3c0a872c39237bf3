#!/bin/bash
# agent.sh - mtconnect-adapter end to end with the reference MTConnect agent
# (cppagent 1.8, built by tests/mtconnect/build-agent.sh). The agent reads
# the adapter's --dump-devices output, connects over SHDR, and its HTTP
# /current must show HAL's values; then a change, a condition, HAL going
# away, and the adapter restarting (the agent restores nothing itself).
#
# Agent binary: $MTC_AGENT, else /var/tmp/hmk-cppagent/agent. Without one
# the test is skipped (exit 77) with a line saying how to build it.
set -uo pipefail
B=${HMK_BIN:?set HMK_BIN to the build directory}
agent=${MTC_AGENT:-${MTC_AGENT_CACHE:-/var/tmp/hmk-cppagent}/agent}
if [ ! -x "$agent" ]; then
    echo "SKIP: no MTConnect agent at $agent: build one with tests/mtconnect/build-agent.sh" \
         "(about 10 minutes) or set MTC_AGENT"
    exit 77
fi
fake=$B/tests/mtconnect/mtc-fake-region
adapter=$B/services/mtconnect-adapter
region=mtc-agent-$$
work=$(mktemp -d /tmp/mtc-agent.XXXXXX)
apid= gpid=
fail() { echo "FAIL: $*"; echo "--- adapter log"; tail -n 20 "$work/adapter.log";
         echo "--- agent log"; tail -n 30 "$work/agent.log"; exit 1; }
cleanup() {
    [ -n "$gpid" ] && kill "$gpid" 2>/dev/null && wait "$gpid" 2>/dev/null
    [ -n "$apid" ] && kill "$apid" 2>/dev/null && wait "$apid" 2>/dev/null
    "$fake" detach "$region" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
# within SECONDS CMD...: CMD succeeds before the deadline (generous: the
# agent's reconnect interval and a loaded machine)
within() {
    local end=$(( $(date +%s) + $1 )); shift
    until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.2; done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
aport=$(free_port)
hport=$(free_port)
cat > "$work/map.ini" <<EOF
[adapter]
listen = 127.0.0.1:$aport
device = mill
uuid = mill-e2e
availability = attached
heartbeat-ms = 2000
[event estop]
pin = estop
type = EMERGENCY_STOP
map = 0=ARMED 1=TRIGGERED
[event execution]
pin = running
type = EXECUTION
map = 0=READY 1=ACTIVE
[sample Sspeed]
pin = speed
type = ROTARY_VELOCITY
units = REVOLUTION/MINUTE
[condition spindle]
pin = fault
type = SYSTEM
native-code = SP1
text = spindle drive fault
EOF
start_adapter() {
    HAL_MICROKERNEL_REGION=$region "$adapter" -c "$work/map.ini" 2>>"$work/adapter.log" &
    apid=$!
    within 20 grep -q "listening on 127.0.0.1:$aport" "$work/adapter.log" || fail "adapter did not start"
}
"$fake" create "$region" estop:bit,running:bit,speed:float,fault:bit
"$fake" set "$region" speed=1500
"$adapter" --dump-devices "$work" -c "$work/map.ini" || fail "--dump-devices"
# the dumped agent.cfg, with the ports of this run and the agent's log here
sed -i "s/^Port = 5000/Port = $hport\nServerIp = 127.0.0.1\nReconnectInterval = 500/" "$work/agent.cfg"
printf 'logger_config {\n    logging_level = debug\n    output = file %s/agent.log\n}\n' "$work" >> "$work/agent.cfg"
start_adapter
(cd "$work" && exec "$agent" run agent.cfg >"$work/agent.out" 2>&1) &
gpid=$!
current() { curl -s --max-time 5 "http://127.0.0.1:$hport/current" > "$work/current.xml"; }
# shows TAG VALUE: /current has <TAG ...>VALUE</TAG> for the mill
shows() { current && grep -q "<$1 [^>]*>$2</$1>" "$work/current.xml"; }
within 60 shows RotaryVelocity 1500 || fail "agent never showed the snapshot: $(cat "$work/current.xml")"
shows Availability AVAILABLE && shows EmergencyStop ARMED && shows Execution READY \
    || fail "snapshot values: $(cat "$work/current.xml")"
grep -q '<Normal [^>]*dataItemId="spindle"' "$work/current.xml" || fail "condition not Normal"
echo "ok   the agent shows the adapter's snapshot (AVAILABLE, ARMED, READY, 1500, Normal)"
"$fake" set "$region" speed=2400.5 running=1
within 20 shows RotaryVelocity 2400.5 || fail "change not seen: $(cat "$work/current.xml")"
shows Execution ACTIVE || fail "EXECUTION not ACTIVE"
echo "ok   HAL changes reach the agent"
"$fake" set "$region" fault=1
within 20 sh -c "curl -s http://127.0.0.1:$hport/current | grep -q '<Fault [^>]*nativeCode=\"SP1\"[^>]*>spindle drive fault</Fault>'" \
    || fail "condition FAULT not seen: $(current; cat "$work/current.xml")"
echo "ok   a fault pin is a FAULT condition with its native code and text"
grep -qi "pong\|heartbeat" "$work/agent.log" || fail "the agent logged no heartbeat set-up"
echo "ok   the agent turned on heartbeats after PING/PONG"
"$fake" detach "$region"
within 20 shows Availability UNAVAILABLE || fail "not UNAVAILABLE after detach"
shows RotaryVelocity UNAVAILABLE || fail "speed not UNAVAILABLE after detach"
echo "ok   HAL gone: the agent shows UNAVAILABLE"
"$fake" create "$region" estop:bit,running:bit,speed:float,fault:bit
"$fake" set "$region" speed=99
within 20 shows RotaryVelocity 99 && shows Availability AVAILABLE || fail "not back after re-create"
echo "ok   HAL back: values again"
kill "$apid"; wait "$apid"; apid=
within 20 shows Availability UNAVAILABLE || fail "agent did not notice the adapter stop"
start_adapter
within 30 shows RotaryVelocity 99 && shows Availability AVAILABLE \
    || fail "after the adapter restarted the agent did not get the state back"
echo "ok   adapter restarted: the agent reconnects and gets the full state"
# the one expected error is the connector's, when the adapter was stopped
bad=$(grep -E "WARN|ERROR|FATAL|Could not|[Uu]nknown|[Ii]nvalid|Cannot" "$work/agent.log" | grep -v "input.connector")
[ -z "$bad" ] || fail "the agent complained: $(echo "$bad" | head -5)"
echo "ok   the agent logged no errors about the adapter's data"
echo "all passed ($("$agent" help 2>&1 | sed -n 2p))"
