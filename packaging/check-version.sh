#!/bin/bash
# check-version.sh BUILD VERSION CHANGELOG - the version has one source, the
# project() line of CMakeLists.txt (VERSION here):
#   - every program `cmake --install` puts in a bin or sbin directory (so
#     also a service added later with its own install() rule) prints
#     "NAME VERSION" for --version and exits 0;
#   - debian/changelog's newest entry is VERSION-<debian revision>.
set -euo pipefail
build=$1 version=$2 changelog=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d /tmp/hmk-pkgver.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

DESTDIR=$tmp cmake --install "$build" >"$tmp/install.log" 2>&1 \
    || { cat "$tmp/install.log"; fail "cmake --install failed"; }
# Python programs find the installed module (python3-halmk's), and the
# module the installed libhalmk.so.1 if it links it (HMK_PYTHON_SHARED)
PYTHONPATH=$(find "$tmp" -type d \( -name dist-packages -o -name site-packages \) -printf '%p:')
LD_LIBRARY_PATH=$(find "$tmp" -name 'libhalmk.so.*' -printf '%h:')
export PYTHONPATH LD_LIBRARY_PATH
n=0
while IFS= read -r -d '' prog; do
    name=$(basename "$prog")
    out=$(timeout 10 "$prog" --version </dev/null 2>&1) || fail "$name --version exited $?: $out"
    [ "$out" = "$name $version" ] || fail "$name --version printed '$out', want '$name $version'"
    echo "$out"
    n=$((n + 1))
done < <(find "$tmp" -type f -perm -u+x \( -path '*/bin/*' -o -path '*/sbin/*' \) -print0 | sort -z)
[ $n -ge 4 ] || fail "only $n installed programs found"

[ -f "$changelog" ] || fail "$changelog missing"
deb=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$changelog")
[ "${deb%-*}" = "$version" ] \
    || fail "debian/changelog's version is $deb, CMakeLists.txt's project() says $version"
echo "debian/changelog $deb"
echo "PASS version ($n programs)"
