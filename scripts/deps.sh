#!/bin/bash
# deps.sh - install, from Debian's packages, everything the build, the tests
# and the demo need. Idempotent: asks apt only for what is missing.
# LinuxCNC comes without its recommends: they pull in a realtime kernel
# image, an initramfs build, PyQt5 and firmware that none of this needs.
set -euo pipefail
pkgs=(
    build-essential cmake pkg-config git
    clang libclang-rt-14-dev            # TSan build and libFuzzer
    linuxcnc-uspace linuxcnc-uspace-dev # rtapi/hal headers, halcompile, halrun
    libinih-dev libcmocka-dev
    systemd                             # systemd-analyze verify for the unit file
    util-linux procps valgrind strace
    gnuplot-nox                         # bench/run.sh plots
)
# each part of the project that needs more (a gateway, the packaging) lists
# its packages in scripts/deps.d/<part>.list: one name per line, # comments
here=$(cd "$(dirname "$0")" && pwd)
for list in "$here"/deps.d/*.list; do
    [ -e "$list" ] || continue
    while read -r p _; do
        case "$p" in ''|'#'*) continue ;; esac
        pkgs+=("$p")
    done < "$list"
done
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "deps.sh: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
