# Fault: /dev/shm full, or the region too large for it, at loadrt. In a
# private mount namespace a small tmpfs stands in for /dev/shm (HAL's own
# memory is SysV shared memory, so HAL runs as usual; rtapi_app, started by
# the first halcmd, inherits the namespace). Each failing loadrt must give
# one clear line and leave nothing behind: no region, no companion, no
# temporary object, no pin or function; a load that fits must then work.
. "$HMK_TESTLIB"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
unshare -m --propagation private bash "$here/inner.sh" || die "inner scenario failed"
