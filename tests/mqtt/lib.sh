# lib.sh - a private mosquitto broker for mqtt-gateway's tests and bench.
# Sourced. Needs $T (a temp dir the caller removes). The broker listens on
# 127.0.0.1 at a free port, keeps nothing on disk, and is stopped by
# broker_stop (call it from the caller's EXIT trap).
BPID=

# free_port: a port nothing listens on right now (the kernel picks it)
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# broker_start [PORT]: starts mosquitto; sets PORT and BPID.
broker_start() {
    PORT=${1:-${PORT:-$(free_port)}}
    cat >"$T/mosquitto.conf" <<CONF
listener $PORT 127.0.0.1
allow_anonymous true
persistence false
log_dest file $T/broker.log
log_type error
log_type warning
log_type notice
connection_messages true
CONF
    mosquitto -c "$T/mosquitto.conf" 2>>"$T/broker.err" &
    BPID=$!
    local end=$(( $(date +%s) + 10 ))
    until port_open "$PORT"; do
        kill -0 "$BPID" 2>/dev/null || { echo "mosquitto failed: $(cat "$T/broker.err" "$T/broker.log" 2>/dev/null)"; return 1; }
        [ "$(date +%s)" -gt "$end" ] && { echo "mosquitto did not listen on $PORT"; return 1; }
        sleep 0.02
    done
}

broker_stop() {
    [ -n "$BPID" ] || return 0
    kill -TERM "$BPID" 2>/dev/null
    wait "$BPID" 2>/dev/null
    BPID=
}

# retained TOPIC: the retained value of TOPIC now ("" if none), waiting up to 2 s
retained() {
    mosquitto_sub -h 127.0.0.1 -p "$PORT" -t "$1" -C 1 -W 2 --retained-only 2>/dev/null
}
