#!/bin/bash
# demo.sh - a real HAL with the bridge, and live pins.
# Installs dependencies, builds, installs the bridge into LinuxCNC's module
# directory, starts configs/demo.hal (siggen driving in pins, an out pin
# looped back into an in pin), then for DEMO_SECONDS (default 20, 0 = until
# Ctrl-C) writes out values with halpoke and prints the region and the HAL
# pins side by side. HAL is stopped on exit.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${HMK_BUILD_DIR:-$src/build}/default
seconds=${DEMO_SECONDS:-20}
"$src/scripts/deps.sh"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
cmake --build "$build" --target install-bridge >/dev/null
export PATH=$build:$PATH
if [ "$(id -u)" = 0 ]; then
    export RTAPI_UID=${RTAPI_UID:-65534} RTAPI_FIFO_PATH=${RTAPI_FIFO_PATH:-/tmp/hmk-rtapi-fifo}
fi
log=$(mktemp /tmp/hmk-demo.XXXXXX.log)
stop() { halrun -U >>"$log" 2>&1 </dev/null || true; }
trap stop EXIT
stop
cd "$src/configs"
halcmd -f demo.hal >>"$log" 2>&1 </dev/null || { cat "$log"; exit 1; }
echo "HAL is running configs/demo.hal; log in $log"
halcmd show thread
start=$(date +%s)
i=0
while [ "$seconds" = 0 ] || [ $(( $(date +%s) - start )) -lt "$seconds" ]; do
    # a "service" writing a setpoint and a bit, as one transaction
    halpoke pin.1 "$(awk -v i=$i 'BEGIN { printf "%.3f", 10 * sin(i / 5) }')" \
            coolant "$(( i / 10 % 2 ))"
    printf '\n--- t=%ss ---------------------------------------------\n' $(( $(date +%s) - start ))
    halpoke --list
    echo "HAL:"
    halcmd -s show pin microkernel | awk '$5 ~ /(pin\.[0-3]\.|connected|update-count|coolant|loop)/ { printf "  %-28s %s\n", $5, $4 }'
    i=$(( i + 1 ))
    sleep 1
done
