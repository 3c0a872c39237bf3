# halpoke's bad inputs: each gets one error line and its exit status, and
# the region is unchanged afterwards (nothing half-applied).
. "$HMK_TESTLIB"
cat > err.hal <<'HAL'
loadrt threads name1=servo-thread period1=1000000
loadrt hal_microkernel_bridge count=4 pins=b:bit:out,s:s32:out,u:u32:out,hin:float:in
addf microkernel.update servo-thread
start
HAL
hal_load err.hal
wait_cycles 2
halpoke 0 1.5 1 2.5 b true s -3 u 7 || die "setup write failed"
before=$(halpoke --list | tail -n +3)

# each case in ./cases: run halpoke with its arguments and report its exit
# status, how many error lines, whether it printed on stdout, whether the
# region changed, and its first error line
while IFS='|' read -r _ _ args; do
    # shellcheck disable=SC2086
    eval "set -- $args"
    halpoke "$@" >out.txt 2>err.txt </dev/null; rc=$?
    [ ! -s out.txt ] && out="no output" || out="output on stdout"
    [ "$(halpoke --list | tail -n +3)" = "$before" ] && region=unchanged || region=changed
    echo "halpoke${args:+ $args}: exit $rc, $(wc -l <err.txt) error lines, $out, region $region: $(head -n 1 err.txt)"
done < <(grep -v -e "^#" -e "^$" "$(dirname "$0")/cases")
