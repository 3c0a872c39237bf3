#!/bin/sh
# fmt_subset.sh DAEMON_SRC_DIR - every printf-style conversion in the
# daemon's sources is one daemon/fmt.c formats (fmt.h: % c s d i u x m,
# flags - 0, width, precision, length hh h l ll z j t). The compiler checks
# the argument types but not that subset; an unknown conversion would cut a
# log line at "%?". pinmon.c prints doubles with libc's snprintf on purpose.
# One line per offending literal, naming file and line; exit 1 if any.
dir=${1:?usage: fmt_subset.sh DAEMON_SRC_DIR}
bad=0
for f in "$dir"/*.c "$dir"/*.h; do
    case ${f##*/} in pinmon.c | fmt.c | fmt.h) continue ;; esac
    perl -ne '
        while (/"((?:[^"\\]|\\.)*)"/g) {
            my $lit = $1;
            while ($lit =~ /%([-0]*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|z|j|t)?)(.?)/g) {
                next if $2 ne "" && index("%csdiuxm", $2) >= 0;
                print "$ARGV:$.: conversion %$1$2 is not one fmt.h formats: \"$lit\"\n";
                $bad = 1;
            }
        }
        END { exit $bad }' "$f" || bad=1
done
[ $bad = 0 ] && echo "fmt_subset: every conversion in $dir is fmt.h's"
exit $bad
