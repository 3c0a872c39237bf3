#!/bin/bash
# package.sh [OUTDIR] - build the Debian packages from a clean clone of this
# checkout's HEAD (commit first: uncommitted changes are not in it), check
# them with lintian, install them, test the INSTALLED files (not the build
# tree), then purge them and check that nothing is left but the groups.
# The .debs are kept in OUTDIR (default build/deb). Needs root (apt, HAL).
#
# Installed-files tests, in order:
#   - every program in the packages prints "NAME VERSION" for --version,
#     VERSION being the project() version of CMakeLists.txt;
#   - /etc/hal-microkernel.ini is a conffile that runs no service, and
#     hal-microkernel -n accepts it; the groups exist;
#   - systemd-analyze verify, and security (the exposure score), on the unit;
#   - halmk-example.c from libhalmk-dev builds with pkg-config --cflags
#     --libs halmk and runs on libhalmk.so.1;
#   - under the HAL lock: the seed .hal (loadrt hal_microkernel_bridge,
#     the seed README's nets) on the packaged bridge and halpoke; then
#     the packaged daemon on a copy of the packaged config attaches
#     (microkernel.connected TRUE), the example client writes a pin as root,
#     a member of both groups writes through the daemon and a member of
#     hal-microkernel only is refused; HAL is stopped (halrun -U);
#   - python3-halmk: /usr/bin/python3 -I (no PYTHON* variables, neither
#     the current nor the script's directory on sys.path), run from /,
#     imports halmk from /usr/lib/python3/dist-packages, linked to the
#     installed libhalmk.so.1 (no copy inside), and reads the seed's
#     region; the installed halmk.pyi matches the installed module
#     (tests/python/test_stub.py) and mypy finds the installed stubs
#     (halmk-stubs) and checks a program with them; with the daemon up it
#     writes a pin that reaches HAL;
#   - apt purge: no file of the packages, no conffile, no state or log
#     directory, no systemd enablement state is left; the groups are.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/build/deb}
[ "$(id -u)" = 0 ] || { echo "package.sh: needs root (apt install, HAL)" >&2; exit 1; }
pkgs=(hal-microkernel libhalmk1 libhalmk-dev python3-halmk)
t_start=$(date +%s)
stage() { echo "==> [$(( $(date +%s) - t_start ))s] $*"; }
die() { echo "package.sh: FAIL: $*" >&2; exit 1; }
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 "$@"; }

tmp=$(mktemp -d /tmp/hmk-package.XXXXXX)
chmod 755 "$tmp"       # apt's _apt user reads the .debs, uid 4242 the socket
installed_by_us=
hal_up=
dpid=
cleanup() {
    rc=$?
    set +e
    if [ -n "$dpid" ]; then kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; fi
    [ -z "$hal_up" ] || halrun -U >>"$tmp/hal.log" 2>&1 </dev/null 9>&-
    [ -z "$installed_by_us" ] || apt_get purge "${pkgs[@]}" >>"$tmp/apt.log" 2>&1 || true
    if [ $rc -ne 0 ]; then
        echo "package.sh: failed; work dir kept: $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit $rc
}
trap cleanup EXIT

stage "dependencies"
"$src/scripts/deps.sh"

stage "clean clone of $(git -C "$src" rev-parse --short HEAD)"
[ -z "$(git -C "$src" status --porcelain --untracked-files=no)" ] \
    || echo "package.sh: note: uncommitted changes in $src are not packaged"
git clone -q "$src" "$tmp/hal-microkernel"
git -C "$tmp/hal-microkernel" checkout -q --detach "$(git -C "$src" rev-parse HEAD)"
clone=$tmp/hal-microkernel
version=$(sed -n 's/^project(hal-microkernel VERSION \([^ )]*\).*/\1/p' "$clone/CMakeLists.txt")
[ -n "$version" ] || die "no project() version in CMakeLists.txt"

stage "dpkg-buildpackage -us -uc -b (nocheck, parallel=2)"
(cd "$clone" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) \
    >"$tmp/build.log" 2>&1 || { tail -n 40 "$tmp/build.log"; die "dpkg-buildpackage failed ($tmp/build.log)"; }
grep -E '^dpkg-gensymbols: warning|^dh_missing' "$tmp/build.log" || true
debs=()
for p in "${pkgs[@]}"; do
    f=$(ls "$tmp/${p}_${version}_"*.deb) || die "no .deb for $p"
    debs+=("$f")
done
rm -rf "$out" && mkdir -p "$out" && cp "${debs[@]}" "$out/"

stage "lintian"
changes=$(ls "$tmp"/hal-microkernel_"$version"_*.changes)
# as nobody: lintian unpacks what it checks, and warns when run as root
mkdir -m 700 "$tmp/lintian-home" && chown 65534:65534 "$tmp/lintian-home"
setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$tmp/lintian-home" \
    lintian --fail-on error,warning "$changes" | tee "$tmp/lintian.log" \
    || die "lintian reported errors or warnings"
echo "lintian: $(grep -c . "$tmp/lintian.log" || true) lines of E/W output"

stage "dpkg -c"
for f in "${debs[@]}"; do
    echo "$(basename "$f"): $(stat -c %s "$f") bytes, files:"
    dpkg -c "$f" | awk '$1 !~ /^d/ { print "    " $6 ($7 == "->" ? " -> " $8 : "") }'
done

# everything from here on is against the installed packages, and HAL and
# the bridge file are shared with every other checkout: hold the HAL lock
# from install to purge, so no other test copies its bridge over ours or
# loads a HAL meanwhile
stage "waiting for the HAL lock"
exec 9>/tmp/hmk-hal.lock
flock 9

stage "apt install ./*.deb"
for p in "${pkgs[@]}"; do
    ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' \
        || die "$p is installed already: purge it first (apt purge ${pkgs[*]})"
done
installed_by_us=1
apt_get install --no-install-recommends "${debs[@]}" >"$tmp/apt.log" 2>&1 \
    || { tail -n 20 "$tmp/apt.log"; die "apt install failed"; }
dpkg --verify "${pkgs[@]}" || die "installed files differ from the packages"
files=$(dpkg -L "${pkgs[@]}" | sort -u | while read -r f; do [ -d "$f" ] || echo "$f"; done)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin    # the installed programs, nothing else

stage "--version of every installed program"
n=0
while read -r f; do
    v=$("$f" --version) || die "$f --version failed"
    [ "$v" = "$(basename "$f") $version" ] || die "$f --version: '$v', want '$(basename "$f") $version'"
    echo "  $v"; n=$((n + 1))
done < <(grep -E '^/usr/s?bin/' <<<"$files")
[ $n -ge 7 ] || die "only $n programs installed"

stage "configuration, groups"
conf=/etc/hal-microkernel.ini
grep -q "^ $conf " <<<"$(dpkg-query -W -f='${Conffiles}\n' hal-microkernel)" || die "$conf is not a conffile"
hal-microkernel -n -c "$conf" || die "hal-microkernel -n -c $conf failed"
! grep -q '^\[service ' "$conf" || die "$conf starts services"
for g in hal-microkernel hal-microkernel-writers; do
    getent group "$g" >/dev/null || die "group $g missing"
done
echo "  $conf: conffile, valid, no service; groups $(getent group hal-microkernel hal-microkernel-writers | cut -d: -f1,3 | tr '\n' ' ')"
[ -z "$(ls /etc/systemd/system/*.wants/hal-microkernel.service 2>/dev/null)" ] || die "the unit got enabled"

stage "systemd-analyze verify / security"
unit=/lib/systemd/system/hal-microkernel.service
[ -f "$unit" ] || die "no $unit"
systemd-analyze verify "$unit" || die "systemd-analyze verify $unit failed"
systemd-analyze security --offline=true --no-pager "$unit" >"$tmp/security.log" 2>&1 \
    || { cat "$tmp/security.log"; die "systemd-analyze security failed"; }
echo "  $(grep -E 'Overall exposure level' "$tmp/security.log" | sed 's/^[^A-Za-z]*//')"

stage "pkg-config --cflags --libs halmk: build the example client"
example=/usr/share/doc/libhalmk-dev/examples/halmk-example.c
[ -f "$example" ] || die "no $example"
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$tmp/halmk-example" "$example" $(pkg-config --cflags --libs halmk) \
    || die "the example does not build with pkg-config"
echo "  pkg-config: $(pkg-config --cflags --libs halmk)"
grep -q 'libhalmk.so.1 => /lib/.*-linux-gnu/libhalmk.so.1\|libhalmk.so.1 => /usr/lib/' \
    <<<"$(ldd "$tmp/halmk-example")" || die "example not linked to the installed libhalmk.so.1: $(ldd "$tmp/halmk-example")"

stage "HAL: the seed .hal on the packaged bridge, then the packaged daemon"
# shellcheck disable=SC2016 # $(RTLIBDIR) is make's
rtlib=$(printf 'include %s\nprint:\n\t@echo $(RTLIBDIR)\n' "$(halcompile --print-modinc)" | make -s -f - print)
grep -qx "$rtlib/hal_microkernel_bridge.so" <<<"$files" || die "the bridge is not in $rtlib"
dpkg --verify hal-microkernel || die "the installed files changed since the install"
work=$tmp/hal
mkdir -m 755 "$work"
export RTAPI_UID=65534 RTAPI_FIFO_PATH=/tmp/hmk-rtapi-fifo HMK_WORK=$work
# shellcheck source=tests/hal/lib.sh
. "$clone/tests/hal/lib.sh"
die() { echo "package.sh: FAIL: $*" >&2; exit 1; }   # lib.sh has its own
# fd 9 (the HAL lock) stays ours: rtapi_app, which the first halcmd starts
# and which may outlive this script, must not inherit it
halrun -U >>"$tmp/hal.log" 2>&1 </dev/null 9>&- || true   # a HAL left by a crashed run
hal_up=1
# The seed README's snippet as it was written (its third line, a bit signal
# into a float pin, HAL refuses: tests/hal/seed_snippet), with siggen and
# stepgen standing in for motion. Functional checks only: the cycle-exact
# timing is the build tree's tests' business, not the installation's.
cat >"$work/seed.hal" <<'HAL'
loadrt threads name1=servo-thread period1=1000000
loadrt siggen
loadrt stepgen step_type=0
addf siggen.0.update servo-thread
loadrt hal_microkernel_bridge
addf microkernel.update servo-thread
net spindle-speed siggen.0.sine => microkernel.pin.0.in
net axis-position microkernel.pin.1.out => stepgen.0.position-cmd
setp siggen.0.amplitude 0
setp siggen.0.offset 2.5
start
HAL
(cd "$work" && halcmd -f seed.hal >>"$tmp/hal.log" 2>&1 </dev/null 9>&-) \
    || { tail -n 20 "$tmp/hal.log"; die "the seed .hal did not load"; }
wait_output 20 2.5 halpoke 0 || die "halpoke 0 gave '$(halpoke 0 2>&1)', want 2.5"
halpoke 1 12.5 || die "halpoke 1 12.5 failed"
wait_output 20 12.5 getp stepgen.0.position-cmd || die "stepgen.0.position-cmd is $(getp stepgen.0.position-cmd)"
[ "$(getp microkernel.connected)" = FALSE ] || die "connected without a daemon"
echo "  seed .hal: halpoke 0 reads 2.5 from siggen; halpoke 1 12.5 reached stepgen.0.position-cmd; connected FALSE"
# python3-halmk, from / (no tree near): the module, its stub, its library
pymod=$(cd / && /usr/bin/python3 -I -c 'import halmk; print(halmk.__file__)') || die "python3 -I cannot import halmk"
case $pymod in /usr/lib/python3/dist-packages/halmk.cpython-*.so) ;; *) die "halmk imported from $pymod" ;; esac
grep -qx "$pymod" <<<"$files" || die "$pymod is not a file of the packages"
grep -q 'libhalmk.so.1 => /lib/.*-linux-gnu/libhalmk.so.1\|libhalmk.so.1 => /usr/lib/' <<<"$(ldd "$pymod")" \
    || die "$pymod not linked to the installed libhalmk.so.1: $(ldd "$pymod")"
[ -z "$(nm -D --defined-only "$pymod" | awk '$3 ~ /^hmk_/')" ] || die "$pymod carries its own copy of libhalmk"
v=$(cd / && /usr/bin/python3 -I -c '
import halmk
with halmk.open(readonly=True) as r:
    print(len(r.pins()), r["pin.0"], r.snapshot()["pin.0"])') || die "python3: halmk could not read the region"
[ "$(cut -d' ' -f2- <<<"$v")" = "2.5 2.5" ] || die "python3: halmk read '$v', want pin.0 2.5 2.5"
(cd / && HMK_STUB=${pymod%/*}/halmk.pyi /usr/bin/python3 -I -m pytest -q -p no:cacheprovider \
    "$clone/tests/python/test_stub.py" >"$tmp/pytest-stub.log" 2>&1) \
    || { tail -n 20 "$tmp/pytest-stub.log"; die "the installed halmk.pyi does not match the installed module"; }
# mypy on a program using halmk: the stubs are found (else "missing
# library stubs") and used (a wrong type is an error)
printf 'import halmk\nr: halmk.Region = halmk.open()\nc: int = r.cycle\n' >"$tmp/typed_ok.py"
printf 'import halmk\nname: int = halmk.open().name\n' >"$tmp/typed_bad.py"
(cd "$tmp" && /usr/bin/python3 -I -m mypy --cache-dir "$tmp/mypy-cache" typed_ok.py >"$tmp/mypy.log" 2>&1) \
    || { cat "$tmp/mypy.log"; die "mypy does not find or accept the installed halmk stubs"; }
if (cd "$tmp" && /usr/bin/python3 -I -m mypy --cache-dir "$tmp/mypy-cache" typed_bad.py >"$tmp/mypy-bad.log" 2>&1); then
    die "mypy accepted 'name: int = halmk.open().name': the stubs are not used"
fi
grep -q 'Incompatible types in assignment' "$tmp/mypy-bad.log" || { cat "$tmp/mypy-bad.log"; die "mypy failed for another reason"; }
echo "  python3 -I: $pymod on $(ldd "$pymod" | awk '/libhalmk/ { print $3 }'), $(cut -d' ' -f1 <<<"$v") pins, pin.0 = 2.5; halmk.pyi matches ($(tail -n 1 "$tmp/pytest-stub.log")); mypy uses halmk-stubs"
# the installed daemon with the installed configuration, but a control
# socket of its own (another daemon may own /run/hal-microkernel)
sock=$work/control
sed "s|^control-socket = .*|control-socket = $sock|" "$conf" >"$work/daemon.ini"
hal-microkernel -c "$work/daemon.ini" 2>"$work/daemon.log" 9>&- &
dpid=$!
wait_output 15 TRUE getp microkernel.connected || die "daemon never connected: $(cat "$work/daemon.log")"
hal-microkernelctl -s "$sock" status >/dev/null || die "hal-microkernelctl status failed"
echo "  daemon: connected TRUE, hal-microkernelctl status ok"
v=$("$tmp/halmk-example" pin.1 4.5) || die "example client (root) could not write pin.1"
[ "$v" = 4.5 ] || die "example client printed '$v', want 4.5"
pin_is microkernel.pin.1.out 4.5 || die "pin.1.out is $(getp microkernel.pin.1.out), want 4.5"
echo "  example client on libhalmk.so.1 (root): pin.1 -> $v, HAL microkernel.pin.1.out $(getp microkernel.pin.1.out)"
(cd / && /usr/bin/python3 -I -c 'import halmk; r = halmk.open(); r["pin.1"] = 5.5; r.close()') \
    || die "python3: halmk could not write pin.1"
wait_output 20 5.5 getp microkernel.pin.1.out || die "python3's pin.1 = 5.5 did not reach HAL: $(getp microkernel.pin.1.out)"
echo "  python3 -I (root): r['pin.1'] = 5.5 reached HAL microkernel.pin.1.out"
hmk=$(getent group hal-microkernel | cut -d: -f3) wr=$(getent group hal-microkernel-writers | cut -d: -f3)
as() { local groups=$1; shift; setpriv --reuid=4242 --regid=4242 --groups="$groups" env HMK_CONTROL_SOCKET="$sock" "$@"; }
# gid 0 reads the region here (rtapi_app's group with RTAPI_UID); the
# writer gets the tools channel from the daemon for being in writer-group
v=$(as "0,$hmk,$wr" "$tmp/halmk-example" pin.1 6.5) || die "writer-group member could not write: $(tail -n 3 "$work/daemon.log")"
pin_is microkernel.pin.1.out 6.5 || die "writer's value did not reach HAL"
if err=$(as "0,$hmk" "$tmp/halmk-example" pin.1 8.5 2>&1); then die "hal-microkernel member (not a writer) could write"; fi
case $err in *"no write channel"*|*"permission denied"*) ;; *) die "non-writer refused with '$err'" ;; esac
pin_is microkernel.pin.1.out 6.5 || die "a refused write changed pin.1"
echo "  uid 4242 in hal-microkernel-writers wrote 6.5 through the daemon; in hal-microkernel only: '$err'"
kill "$dpid"; wait "$dpid" || die "daemon exited $? on SIGTERM"; dpid=
halrun -U >>"$tmp/hal.log" 2>&1 </dev/null 9>&-; hal_up=
echo "  HAL stopped"

stage "apt purge"
apt_get purge "${pkgs[@]}" >>"$tmp/apt.log" 2>&1 || { tail -n 20 "$tmp/apt.log"; die "apt purge failed"; }
installed_by_us=
left=$(while read -r f; do [ ! -e "$f" ] && [ ! -L "$f" ] || echo "$f"; done <<<"$files")
[ -z "$left" ] || die "left after purge: $left"
for p in "${pkgs[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    case $st in ''|'pn '*|'un '*) ;; *) die "$p is still '$st' in dpkg after the purge" ;; esac
done
for d in "$conf" /var/lib/hal-microkernel /var/log/hal-microkernel; do
    [ ! -e "$d" ] || die "$d left after purge"
done
! ls /var/lib/systemd/deb-systemd-helper-*/*hal-microkernel* >/dev/null 2>&1 || die "systemd state left"
for g in hal-microkernel hal-microkernel-writers; do
    getent group "$g" >/dev/null || die "group $g removed (policy keeps it)"
done
echo "  nothing left of $(wc -l <<<"$files") files; groups kept (Debian policy)"
flock -u 9

stage "package.sh: all passed in $(( $(date +%s) - t_start ))s; the .debs are in $out"
