# Who may write: write rights are channels that only root and the daemon can
# hand out (docs/isolation.md). The region in /dev/shm is read-only to
# everyone but rtapi_app's user, so without the daemon only root writes;
# with it, a member of its writer-group gets the tools channel over the
# control socket (SO_PEERCRED), a service granted pins gets its own channel
# at start, and everyone else is refused with one clear line. Identities
# are played with setpriv, never root.
. "$HMK_SRC/tests/hal/svc_lib.sh"
bridge_load "t:float:out,u:float:out,x:float:in"
users=$(getent group users | cut -d: -f3)
[ -n "$users" ] || die "no group 'users' on this machine"
as() { local ids=$1; shift; setpriv $ids env HMK_CONTROL_SOCKET="$sock" "$HMK_BIN/halpoke" "$@"; }
reader="--reuid=4242 --regid=0 --clear-groups"            # in the owning group only
writer="--reuid=4242 --regid=4242 --groups=0,$users"      # and in the writer group
stranger="--reuid=4242 --regid=4242 --clear-groups"
refused() { # refused IDS WHAT ARGS...: one line saying permission denied, exit 1
    local ids=$1 what=$2 err; shift 2
    err=$(one_line_error 1 setpriv $ids env HMK_CONTROL_SOCKET="$sock" "$HMK_BIN/halpoke" "$@") || exit 1
    case $err in *"permission denied"*) ;; *) die "$what: '$err'" ;; esac
}

halpoke t 1.5 || die "root could not write"
[ "$(as "$reader" t)" = 1.5 ] || die "reader cannot read t"
refused "$reader" "reader's write without the daemon" t 2
refused "$writer" "writer-group member's write without the daemon" t 2
refused "$stranger" "stranger's read" t
[ "$(halpoke t)" = 1.5 ] || die "a refused write changed t"
echo "no daemon: the group reads, only root writes, others nothing"

{ daemon_ini | sed "s/^region = .*/&\nwriter-group = users\ncontrol-mode = 0666/"; cat <<INI
[service granted]
exec = $HMK_BIN/halpoke t 7.25
user = daemon
group = root
writes = t
restart = no

[service ungranted]
exec = $HMK_BIN/halpoke u 9
user = daemon
group = root
restart = no
INI
} > hmk.ini
chmod 755 "$HMK_WORK"   # the control socket lives here
daemon_start hmk.ini
wait_output 10 TRUE getp microkernel.connected || die "not connected"
wait_output 10 7.25 getp microkernel.t || die "granted service's write did not reach HAL: $(tail -n 5 daemon.log)"
as "$writer" u 2.5 || die "writer-group member could not write through the daemon"
wait_output 5 2.5 getp microkernel.u || die "writer's value did not reach HAL"
as "$writer" --pulse t 3 || die "writer could not queue a pulse"
refused "$reader" "reader's write with the daemon" t 3
grep -q "Refused a write channel to a peer outside the writer group" daemon.log \
    || die "refusal not logged: $(tail -n 3 daemon.log)"
echo "daemon: writer-group member writes and pulses, reader refused"

done_state() { case $(svc_field "$1" state) in stopped|failed) return 0 ;; *) return 1 ;; esac; }
wait_until 10 done_state ungranted || die "ungranted service did not finish: $(svc_field ungranted state)"
grep -q "^halpoke: pin 'u': permission denied" daemon.log \
    || die "ungranted service was not refused: $(tail -n 5 daemon.log)"
[ "$(halpoke u)" = 2.5 ] || die "ungranted service changed u to $(halpoke u)"
[ "$(halpoke t)" = 7.25 ] || die "t is $(halpoke t), not the granted service's 7.25"
svc_clean
echo "services: the granted one wrote t through its channel, the ungranted one was refused"
