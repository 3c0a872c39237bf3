# Write permission at the file level: loadrt ... writers=users puts a POSIX
# access list on the region and its companions, so the owning group (here
# root's, the default) can only read and the writers group may write. The
# kernel enforces it for any process, whatever library it uses: checked with
# halpoke under other identities (setpriv), then through the daemon, which
# gives its writer-group only to services granted pins (writes =) and never
# to the others.
. "$HMK_SRC/tests/hal/svc_lib.sh"
bridge_load "t:float:out,u:float:out,x:float:in writers=users"
users=$(getent group users | cut -d: -f3)
[ -n "$users" ] || die "no group 'users' on this machine"
as() { local ids=$1; shift; setpriv $ids "$HMK_BIN/halpoke" "$@"; }
reader="--reuid=4242 --regid=0 --clear-groups"            # in the owning group only
writer="--reuid=4242 --regid=4242 --groups=$users"        # in the writers group only
stranger="--reuid=4242 --regid=4242 --clear-groups"

halpoke t 1.5 || die "root could not write"
[ "$(as "$reader" t)" = 1.5 ] || die "reader cannot read t"
err=$(one_line_error 1 setpriv $reader "$HMK_BIN/halpoke" t 2) || exit 1
case $err in *"permission denied"*) ;; *) die "reader's write: '$err'" ;; esac
[ "$(halpoke t)" = 1.5 ] || die "a refused write changed t"
as "$writer" t 2.5 || die "writer could not write"
wait_output 5 2.5 getp microkernel.t || die "writer's value did not reach HAL"
as "$writer" --pulse u 3 || die "writer could not queue a pulse"
err=$(one_line_error 1 setpriv $stranger "$HMK_BIN/halpoke" t) || exit 1
case $err in *"permission denied"*) ;; *) die "stranger's read: '$err'" ;; esac
echo "files: owning group reads, writers group writes and pulses, others nothing"

# the daemon: only the service granted pins gets the writer group
{ daemon_ini | sed "s/^region = .*/&\nwriter-group = users/"; cat <<INI
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
daemon_start hmk.ini
wait_output 10 7.25 getp microkernel.t || die "granted service's write did not reach HAL: $(tail -n 5 daemon.log)"
done_state() { case $(svc_field "$1" state) in stopped|failed) return 0 ;; *) return 1 ;; esac; }
wait_until 10 done_state ungranted || die "ungranted service did not finish: $(svc_field ungranted state)"
grep -q "^halpoke: region 'hal-microkernel': permission denied" daemon.log \
    || die "ungranted service was not refused by the kernel: $(tail -n 5 daemon.log)"
[ "$(halpoke u)" = 0 ] || die "ungranted service changed u to $(halpoke u)"
svc_clean
echo "daemon: granted service wrote t, ungranted one refused by the kernel (no writes = line)"
