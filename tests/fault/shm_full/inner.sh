#!/bin/bash
# Runs in its own mount namespace; see test.sh, which stops HAL from
# outside afterwards (through the rtapi socket under /tmp, which is shared)
# and checks that rtapi_app, the namespace and its tmpfs are gone.
. "$HMK_TESTLIB"
mount -t tmpfs -o size=192k,mode=1777 hmk-small-shm /dev/shm || die "cannot mount a small /dev/shm"
hal_load <(echo "loadrt threads name1=servo-thread period1=1000000")
# the rtapi_app we talk to must be the one started just now, in here: one
# left running outside would see the real /dev/shm
pid=$(ps -C rtapi_app -o pid=,stat= | awk '$2 !~ /^Z/ { print $1 }') # not the zombies
[ -n "$pid" ] || die "no rtapi_app"
[ "$(echo "$pid" | wc -l)" = 1 ] || die "more than one rtapi_app: $pid"
[ "$(readlink /proc/"$pid"/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ] \
    || die "rtapi_app $pid runs outside this test's mount namespace (a HAL left over?)"
echo "$pid $(readlink /proc/self/ns/mnt)" > "$HMK_WORK/rtapi.ns"

theirs=filler
nothing_left() { # nothing in /dev/shm but what the case put there itself ($theirs)
    [ -z "$(ls -A /dev/shm | grep -vx -e "$theirs")" ]
}

# try_load PARAMS WANT: loadrt fails with exactly one line of ours, WANT,
# and leaves no object (not even a temporary one), pin or function
try_load() {
    local out off
    off=$(stat -c %s "$HMK_WORK/hal.log")
    # shellcheck disable=SC2086
    halcmd loadrt hal_microkernel_bridge $1 >>"$HMK_WORK/hal.log" 2>&1 </dev/null \
        && die "loadrt $1 succeeded in a full /dev/shm"
    # rtapi_app's stderr (the module's error line) goes to the same log;
    # "MODULE: rtapi_app_main: ERROR (-N)" after it is rtapi_app's own
    out=$(tail -c +$((off + 1)) "$HMK_WORK/hal.log" | grep '^hal_microkernel_bridge: ' |
        grep -v '^hal_microkernel_bridge: rtapi_app_main: ')
    [ "$out" = "hal_microkernel_bridge: $2" ] || die "loadrt $1: want one line '$2', got: $out"
    nothing_left || die "loadrt $1 left behind: $(ls -A /dev/shm | tr "\n" " ")"
    [ -z "$(halcmd -s show pin 'microkernel.*' 2>/dev/null)" ] || die "loadrt $1 left pins"
    [ -z "$(halcmd -s show funct 'microkernel.*' 2>/dev/null)" ] || die "loadrt $1 left functions"
    echo "refused cleanly: $1 -> $2"
}

# good_load PARAMS: loads, both objects are there, unloads, nothing left
# (the control block and the write channels are memfds: not in /dev/shm)
good_load() {
    # shellcheck disable=SC2086
    halcmd loadrt hal_microkernel_bridge $1 >>"$HMK_WORK/hal.log" 2>&1 </dev/null \
        || die "a load that fits failed ($1): $(tail -n 3 "$HMK_WORK/hal.log")"
    for o in hal-microkernel hal-microkernel.stream; do
        [ -f "/dev/shm/$o" ] || die "no /dev/shm/$o after a good load"
    done
    [ "$(ls -A /dev/shm | wc -l)" = 2 ] || die "more than the region and its stream: $(ls -A /dev/shm)"
    # bytes each object takes from the tmpfs (it is sized with fallocate)
    used=$(du -B1 /dev/shm/hal-microkernel | cut -f1)
    sused=$(du -B1 /dev/shm/hal-microkernel.stream | cut -f1)
    halcmd unload hal_microkernel_bridge >>"$HMK_WORK/hal.log" 2>&1 </dev/null || die "unload failed"
    [ -z "$(ls -A /dev/shm)" ] || die "unload left behind: $(ls -A /dev/shm)"
}

free_bytes() { df -B1 --output=avail /dev/shm | tail -n 1 | tr -d ' '; }
fill() { # fill BYTES: leave exactly BYTES free (page-aligned)
    rm -f /dev/shm/filler
    head -c $(( $(free_bytes) - $1 )) /dev/zero > /dev/shm/filler || die "cannot fill /dev/shm"
    [ "$(free_bytes)" = "$1" ] || die "wanted $1 bytes free, have $(free_bytes)"
}

good_load "count=4 stream_depth=16"
echo "fits: the region takes $used bytes, a 16-record stream $sused"
# 1. /dev/shm too full for the region itself (the first object)
fill $((16 * 4096))
try_load "count=4" "region='hal-microkernel': cannot size 91200 bytes in /dev/shm: No space left on device"
rm -f /dev/shm/filler
# 2. the region fits, the change stream asked for (40 MiB) does not
try_load "count=4 stream_depth=1048576" "region='hal-microkernel': cannot size 41943104 bytes in /dev/shm for the change stream (a smaller stream_depth= needs less): No space left on device"
# 3. the region fits, not a page more: it is taken back
fill "$used"
try_load "count=4 stream_depth=16" "region='hal-microkernel': cannot size 704 bytes in /dev/shm for the change stream (a smaller stream_depth= needs less): No space left on device"
rm -f /dev/shm/filler
# 4. both made, but the stream cannot be put in place (a stale one of
#    root's, and rtapi_app runs as RTAPI_UID in the sticky /dev/shm):
#    nothing is left, the stale one is left alone
echo stale > /dev/shm/hal-microkernel.stream
theirs=hal-microkernel.stream
try_load "count=4 stream_depth=16" "region='hal-microkernel': cannot put /dev/shm/hal-microkernel.stream in place: Operation not permitted (another user's is there: remove it)"
[ "$(cat /dev/shm/hal-microkernel.stream)" = stale ] || die "another user's object was touched"
rm /dev/shm/hal-microkernel.stream
# 5. a load that fits works after all that, and unloads clean
good_load "count=4 stream_depth=256"
echo "fits: loaded and unloaded, nothing left"
