/*
 * crashsvc - a service that crashes at once, to time the daemon's restarts.
 *
 *   crashsvc FILE N [LIVE_MS]
 *   crashsvc            the same from $CRASHSVC_FILE, $CRASHSVC_N and
 *                       $CRASHSVC_LIVE_MS: runit's and s6's ./run is then a
 *                       symlink to this program, no shell in between
 *
 * Appends "start NS" (CLOCK_MONOTONIC, first thing in main) to FILE, lives
 * LIVE_MS (default 0; runsv and s6-supervise hold back the restart of a run
 * shorter than 1 s, so they are timed with 1100), then appends "exit NS" and
 * exits with status 1, until FILE holds N start lines; from
 * then on it stays up (until SIGTERM) so that the daemon settles. The
 * restart latency of crash k is start(k+1) - exit(k): from the last
 * instruction of the dying child through its exit, the daemon's reaping,
 * its restart decision, fork, exec and the dynamic loader to main() of the
 * new child. Each line is one O_APPEND write(2).
 */
#include "benchutil.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void stamp(int fd, const char *what, uint64_t t)
{
    char buf[64];
    int len = snprintf(buf, sizeof(buf), "%s %llu\n", what, (unsigned long long)t);
    if (write(fd, buf, (size_t)len) != len)
        _exit(3);
}

int main(int argc, char **argv)
{
    uint64_t t0 = bench_now_ns();
    char buf[65536];
    long want, starts = 0;
    ssize_t got;
    int fd;

    /* from the environment as ./run of runsv (no argument) or s6-supervise
     * (which passes the service's name) */
    bool env = argc <= 2 && getenv("CRASHSVC_FILE");
    const char *file = env ? getenv("CRASHSVC_FILE") : argc > 1 ? argv[1] : NULL;
    const char *n = env ? getenv("CRASHSVC_N") : argc > 2 ? argv[2] : NULL;
    const char *live = env ? getenv("CRASHSVC_LIVE_MS") : argc > 3 ? argv[3] : NULL;
    long live_ms = live ? strtol(live, NULL, 10) : 0;

    if (argc > 4 || !file || !n || (want = strtol(n, NULL, 10)) < 1 || live_ms < 0) {
        fprintf(stderr, "usage: crashsvc FILE N [LIVE_MS] (or $CRASHSVC_FILE, _N, _LIVE_MS)\n");
        return 2;
    }
    fd = open(file, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(file);
        return 2;
    }
    stamp(fd, "start", t0);
    /* count start lines: the file stays small (2 lines of < 32 bytes a run) */
    got = pread(fd, buf, sizeof(buf) - 1, 0);
    if (got > 0) {
        buf[got] = '\0';
        for (char *p = buf; (p = strstr(p, "start ")); p++)
            starts++;
    }
    if (starts >= want) {
        pause();
        return 0;
    }
    if (live_ms) {
        struct timespec ts = { live_ms / 1000, (live_ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0)
            ;
    }
    stamp(fd, "exit", bench_now_ns());
    _exit(1);
}
