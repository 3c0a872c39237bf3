# Runs in its own mount namespace; see test.sh. HAL is stopped by
# runtest.sh from outside (through the rtapi FIFO in /tmp, which is shared).
. "$HMK_TESTLIB"
mount -t tmpfs -o size=192k,mode=1777 hmk-small-shm /dev/shm || die "cannot mount a small /dev/shm"
hal_load <(echo "loadrt threads name1=servo-thread period1=1000000")

# try_load SIZE PARAMS WANT: loadrt fails, its output names WANT, nothing left
try_load() {
    local want=$2 out off
    off=$(stat -c %s "$HMK_WORK/hal.log")
    # shellcheck disable=SC2086
    halcmd loadrt hal_microkernel_bridge $1 >>"$HMK_WORK/hal.log" 2>&1 </dev/null \
        && die "loadrt $1 succeeded in a full /dev/shm"
    # rtapi_app's own stderr (the module's error line) goes to the same log
    out=$(tail -c +$((off + 1)) "$HMK_WORK/hal.log" | grep -F 'hal_microkernel_bridge: region=')
    [ "$(echo "$out" | grep -c .)" = 1 ] || die "loadrt $1: want one error line, got: $out"
    echo "$out" | grep -qF -- "$want" || die "loadrt $1 said: $out"
    [ -z "$(ls -A /dev/shm | grep -v '^filler$')" ] || die "loadrt $1 left behind: $(ls -A /dev/shm)"
    [ -z "$(halcmd -s show pin 'microkernel.*' 2>/dev/null)" ] || die "loadrt $1 left pins"
    [ -z "$(halcmd -s show funct 'microkernel.*' 2>/dev/null)" ] || die "loadrt $1 left functions"
    echo "refused cleanly: $1 -> ${out#hal_microkernel_bridge: }"
}

# 1. fill /dev/shm so the region itself does not fit
head -c $((150 * 1024)) /dev/zero > /dev/shm/filler || die "cannot fill /dev/shm"
try_load "count=4" "cannot size 106944 bytes in /dev/shm"
rm -f /dev/shm/filler
# 2. the region fits, the change stream asked for does not (32 MiB)
try_load "count=4 stream_depth=1048576" "bytes in /dev/shm"
# 3. a load that fits works, and unloads clean
halcmd loadrt hal_microkernel_bridge count=4 stream_depth=256 >>"$HMK_WORK/hal.log" 2>&1 </dev/null \
    || die "a load that fits failed: $(tail -n 3 "$HMK_WORK/hal.log")"
[ -e /dev/shm/hal-microkernel ] || die "no region after a good load"
halcmd unload hal_microkernel_bridge >>"$HMK_WORK/hal.log" 2>&1 </dev/null || die "unload failed"
[ -z "$(ls -A /dev/shm)" ] || die "unload left behind: $(ls -A /dev/shm)"
echo "fits: loaded and unloaded, nothing left"
