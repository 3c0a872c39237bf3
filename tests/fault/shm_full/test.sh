# Fault: /dev/shm full, or the region too large for it, at loadrt. In a
# private mount namespace a small tmpfs stands in for /dev/shm (HAL's own
# memory is SysV shared memory, so HAL runs as usual; rtapi_app, started by
# the first halcmd, inherits the namespace). Each failing loadrt must give
# one clear line and leave nothing behind: no region, no companion, no
# temporary object, no pin or function; a load that fits must then work.
. "$HMK_TESTLIB"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
host_before=$(ls -A /dev/shm | grep -c '^\.\?hal-microkernel')
unshare -m --propagation private bash "$here/inner.sh" || die "inner scenario failed"

# rtapi_app outlives inner.sh and keeps its namespace (and the tmpfs)
# alive. Stop HAL from here, as runtest.sh would, and see that it all goes.
read -r pid ns < "$HMK_WORK/rtapi.ns" || die "inner.sh did not say which rtapi_app it ran"
halrun -U >>"$HMK_WORK/hal.log" 2>&1 </dev/null
gone() { [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
wait_until 10 gone "$pid" || die "rtapi_app $pid still running after halrun -U"
in_ns() { # any process left in mount namespace $1
    for p in /proc/[0-9]*; do [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$1" ] && return 0; done
    return 1
}
in_ns "$ns" && die "processes left in the test's mount namespace: $(for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$ns" ] && echo "${p#/proc/}"; done)"
grep -qs hmk-small-shm /proc/[0-9]*/mountinfo && die "the small /dev/shm is still mounted somewhere"
[ "$(ls -A /dev/shm | grep -c '^\.\?hal-microkernel')" = "$host_before" ] \
    || die "the test touched the real /dev/shm: $(ls -A /dev/shm | grep hal-microkernel)"
echo "stopped: rtapi_app gone, nothing left in its namespace, the small /dev/shm gone with it"
