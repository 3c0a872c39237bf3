#!/bin/bash
# check-shlib.sh LIB API_LIST SONAME EXAMPLE INCLUDE - libhalmk.so as a package
# ships it:
#   - its SONAME is SONAME;
#   - API_LIST (the functions the CMake parse found in the public headers,
#     from which the version script was made) is what the compiler itself
#     finds declared there (gcc -aux-info), so the parse missed none;
#   - it exports exactly those functions, each in version node HALMK_1, and
#     nothing else: no private hmk_cap_*/hmk_heartbeat, no other symbol;
#   - EXAMPLE (packaging/halmk-example.c linked against LIB) runs on it and
#     answers a missing region with one line naming it.
set -euo pipefail
lib=$1 api=$2 soname=$3 example=$4 inc=$5
fail() { echo "FAIL: $*" >&2; exit 1; }

# every function the compiler sees declared in halmk.h or halmk_service.h
decl=$(echo '#include "halmk_service.h"' \
    | gcc -x c -std=c11 -I"$inc" -fsyntax-only -aux-info /dev/stdout - \
    | sed -n 's|^/\* [^ ]*/halmk\(_service\)\{0,1\}\.h:[0-9]*:[A-Z]* \*/.*[ *]\([a-z_][a-z0-9_]*\) (.*|\2|p' | sort -u)
[ "$(wc -l <<<"$decl")" -ge 10 ] || fail "gcc -aux-info found only: $decl"
[ "$decl" = "$(sort -u "$api")" ] \
    || fail "the version script's list differs from the declarations: $(diff <(echo "$decl") <(sort -u "$api") | grep '^[<>]' | tr '\n' ' ')"

got=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$got" = "$soname" ] || fail "SONAME of $lib is '$got', want '$soname'"
echo "SONAME $got"

# defined dynamic symbols, as NAME@VERSION (the version node itself is an
# absolute symbol: skipped)
syms=$(nm -D --defined-only --with-symbol-versions "$lib" | awk '$2 != "A" { print $3 }' | sort)
bad=$(grep -v '@@HALMK_1$' <<<"$syms" || true)
[ -z "$bad" ] || fail "exported outside HALMK_1: $bad"
names=$(sed 's/@@HALMK_1$//' <<<"$syms")
extra=$(comm -23 <(echo "$names") <(sort "$api"))
missing=$(comm -13 <(echo "$names") <(sort "$api"))
[ -z "$extra" ] || fail "exported but not in a public header: $(tr '\n' ' ' <<<"$extra")"
[ -z "$missing" ] || fail "declared in a public header but not exported: $(tr '\n' ' ' <<<"$missing")"
echo "exports $(wc -l <<<"$names") functions, all hmk_* in HALMK_1"

# ldd's whole output first: grep -q stopping early would SIGPIPE it, and
# pipefail would call that a failure
deps=$(ldd "$example")
grep -q "^\s*$soname => " <<<"$deps" || fail "$example does not use $soname: $deps"
region=hmk-pkgcheck-none-$$
set +e
out=$(HAL_MICROKERNEL_REGION=$region "$example" pin.0 2>&1)
rc=$?
set -e
[ $rc = 1 ] || fail "example exited $rc on a missing region: $out"
if [ "$(wc -l <<<"$out")" != 1 ] || ! grep -q "region '$region'" <<<"$out"; then
    fail "example's error is not one line naming the region: $out"
fi
echo "example on the shared library: $out"
echo "PASS shlib"
