/*
 * crashsvc - a service that crashes at once, to time the daemon's restarts.
 *
 *   crashsvc FILE N
 *
 * Appends "start NS" (CLOCK_MONOTONIC, first thing in main) to FILE, then
 * "exit NS" and exits with status 1, until FILE holds N start lines; from
 * then on it stays up (until SIGTERM) so that the daemon settles. The
 * restart latency of crash k is start(k+1) - exit(k): from the last
 * instruction of the dying child through its exit, the daemon's reaping,
 * its restart decision, fork, exec and the dynamic loader to main() of the
 * new child. Each line is one O_APPEND write(2).
 */
#include "benchutil.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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

    if (argc != 3 || (want = strtol(argv[2], NULL, 10)) < 1) {
        fprintf(stderr, "usage: crashsvc FILE N\n");
        return 2;
    }
    fd = open(argv[1], O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(argv[1]);
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
    stamp(fd, "exit", bench_now_ns());
    _exit(1);
}
