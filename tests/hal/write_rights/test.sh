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
# tried IDS LABEL ARGS...: halpoke ARGS as IDS; report its exit status, how
# many error lines, whether it printed on stdout, and its first error line
tried() {
    local ids=$1 label=$2 rc out; shift 2
    as "$ids" "$@" >err.out 2>err.txt </dev/null; rc=$?
    [ -s err.out ] && out="output on stdout" || out="no output"
    echo "$label: exit $rc, $(wc -l <err.txt) error lines, $out: $(head -n 1 err.txt)"
}

saw "root writes t" halpoke t 1.5
echo "reader reads t: $(as "$reader" t)"
tried "$reader" "reader's write without the daemon" t 2
tried "$writer" "writer-group member's write without the daemon" t 2
tried "$stranger" "stranger's read" t
echo "t after the refused writes: $(halpoke t)"

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
wait_output 10 TRUE getp microkernel.connected
echo "connected with the daemon: $(getp microkernel.connected)"
wait_output 10 7.25 getp microkernel.t
echo "t after the granted service: $(getp microkernel.t)"
saw "writer writes u through the daemon" as "$writer" u 2.5
wait_output 5 2.5 getp microkernel.u
echo "u after the writer's write: $(getp microkernel.u)"
saw "writer pulses t through the daemon" as "$writer" --pulse t 3
tried "$reader" "reader's write with the daemon" t 3
echo "daemon log refusals outside the writer group: $(grep -c "Refused a write channel to a peer outside the writer group" daemon.log)"

done_state() { case $(svc_field "$1" state) in stopped|failed) return 0 ;; *) return 1 ;; esac; }
wait_until 10 done_state ungranted
echo "ungranted service state: $(svc_field ungranted state)"
echo "daemon log refusals of the ungranted service: $(grep -c "^halpoke: pin 'u': permission denied" daemon.log)"
echo "u after the services: $(halpoke u)"
echo "t after the services: $(halpoke t)"
svc_clean
