/*
 * hmk-test-react - a framework service for the reaction-time tests and
 * bench: follows pin.0 of its region through the change stream.
 *
 *   hmk-test-react SLEEP_MS EVERY [LOGFILE]
 *     on a change to a value that is a non-zero multiple of EVERY, sleeps
 *     SLEEP_MS in the handler (a reaction that misses its deadline); with
 *     LOGFILE, appends "VALUE REACTION_NS" per change, measured from the
 *     event's bridge stamp to the handler's return (the bench's samples)
 *   hmk-test-react clock LOGFILE
 *     pin.0 carries the wall clock in ms at the moment it was set
 *     (hmk-web-region clock, bench/sched.sh): appends "now - value" in us
 *     per change, the whole path from the setter to this handler
 *   hmk-test-react scribble
 *     plays a hostile service: fills its own telemetry block with 0xff,
 *     tries to shrink and grow it (both must fail: sealed), then runs
 *     normally with SLEEP_MS 0
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "halmk_service.h"
#include "hmk_svc_abi.h"

static long sleep_ms, every = 1;
static FILE *samples;
static int clock_mode;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int on_change(hmk_svc *s, unsigned slot, const hmk_value *v, uint64_t cycle, void *user)
{
    long val = (long)v->f;
    (void)s, (void)slot, (void)cycle, (void)user;
    if (clock_mode) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        fprintf(samples, "%.0f\n", ((double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6 - v->f) * 1e3);
        fflush(samples);
        return 0;
    }
    if (sleep_ms && val && val % every == 0) {
        struct timespec ts = { sleep_ms / 1000, sleep_ms % 1000 * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    if (samples) {
        struct hmk_stats st;
        /* the latest stamp: the bench's own samples, beside the telemetry */
        if (hmk_stats(hmk_svc_region(s), &st) == 0)
            fprintf(samples, "%ld %" PRIu64 "\n", val, now_ns() - st.bridge_time_ns);
        fflush(samples);
    }
    return 0;
}

static int scribble(void)
{
    const char *e = getenv(HMK_ENV_TELEMETRY_FD);
    int fd = e ? atoi(e) : -1;
    void *p;

    if (fd < 0) {
        fprintf(stderr, "hmk-test-react: no %s\n", HMK_ENV_TELEMETRY_FD);
        return -1;
    }
    if (ftruncate(fd, 0) == 0 || ftruncate(fd, 1 << 20) == 0) {
        fprintf(stderr, "hmk-test-react: the telemetry block could be resized\n");
        return -1;
    }
    p = mmap(NULL, HMK_TELEMETRY_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return -1;
    memset(p, 0xff, HMK_TELEMETRY_SIZE);
    munmap(p, HMK_TELEMETRY_SIZE);
    fprintf(stderr, "hmk-test-react: scribbled over the telemetry block; resizing refused\n");
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const reads[] = { "pin.0", NULL };
    struct hmk_svc_def def = { .name = "react", .reads = reads, .on_change = on_change, .stream = true };
    char err[256] = "";
    int ret;

    if (argc == 3 && !strcmp(argv[1], "clock")) {
        clock_mode = 1;
        if (!(samples = fopen(argv[2], "ae"))) {
            fprintf(stderr, "hmk-test-react: %s: %s\n", argv[2], strerror(errno));
            return 1;
        }
    } else if (argc >= 2 && !strcmp(argv[1], "scribble")) {
        if (scribble() < 0)
            return 1;
    } else if (argc >= 3) {
        sleep_ms = atol(argv[1]);
        every = atol(argv[2]) > 0 ? atol(argv[2]) : 1;
        if (argc >= 4 && !(samples = fopen(argv[3], "ae"))) {
            fprintf(stderr, "hmk-test-react: %s: %s\n", argv[3], strerror(errno));
            return 1;
        }
    } else {
        fprintf(stderr, "usage: hmk-test-react SLEEP_MS EVERY [LOGFILE] | clock LOGFILE | scribble\n");
        return 2;
    }
    ret = hmk_svc_run(&def, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "hmk-test-react: %s\n", err);
        return 1;
    }
    return 0;
}
