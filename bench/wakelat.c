/*
 * wakelat - HAL-side change to service wake-up latency through hmk_wait().
 *
 *   wakelat PIN COUNT [PERIOD_NS]
 *
 * Waits COUNT times for PIN's in value to change. Each wake-up is timed
 * against the CLOCK_MONOTONIC stamp the bridge took at the start of the
 * cycle in which it saw the change. The bridge publishes the stamp of its
 * latest cycle only, so when it has already moved on by k cycles the
 * change's stamp is taken as latest - k * PERIOD_NS (default 1 ms, the
 * servo period), an estimate that only affects the slow samples.
 * Prints samples, median, p99 and max in microseconds.
 */
#include "halmk.h"
#include "halmk_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    hmk_region *r;
    uint64_t *lat, since;
    unsigned pin;
    long count, kept = 0, tries = 0;
    int ret, i;

    uint64_t period = argc == 4 ? strtoull(argv[3], NULL, 10) : 1000000u;

    if (argc < 3 || argc > 4 || (count = strtol(argv[2], NULL, 10)) < 1 || period == 0) {
        fprintf(stderr, "usage: wakelat PIN COUNT [PERIOD_NS]\n");
        return 2;
    }
    ret = hmk_open(NULL, HMK_OPEN_RDONLY, &r);
    if (ret < 0) {
        fprintf(stderr, "wakelat: %s\n", hmk_strerror(ret));
        return 1;
    }
    i = hmk_pin_find(r, argv[1]);
    if (i < 0) {
        fprintf(stderr, "wakelat: pin '%s': no such pin\n", argv[1]);
        return 1;
    }
    pin = (unsigned)i;
    lat = calloc((size_t)count, sizeof(*lat));
    since = hmk_cycle(r);
    while (kept < count && tries < count * 2) {
        struct hmk_stats st;
        struct timespec ts;
        uint64_t now;

        ret = hmk_wait(r, &pin, 1, &since, 5000, NULL);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if (ret < 0) {
            fprintf(stderr, "wakelat: %s\n", hmk_strerror(ret));
            return 1;
        }
        tries++;
        now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        /* the bridge stamps the cycle after it publishes the values: a fast
         * waiter may look before that, so wait (microseconds) for the stamp */
        for (int spin = 0; hmk_stats(r, &st) >= 0 && st.cycle < since && spin < 100000; spin++)
            ;
        if (st.cycle >= since) {
            uint64_t at = st.bridge_time_ns - (st.cycle - since) * period;
            lat[kept++] = now > at ? now - at : 0;
        }
    }
    qsort(lat, (size_t)kept, sizeof(*lat), cmp_u64);
    if (kept == 0) {
        fprintf(stderr, "wakelat: no sample kept\n");
        return 1;
    }
    printf("samples %ld (of %ld wake-ups) median_us %.1f p99_us %.1f max_us %.1f\n", kept, tries,
           lat[kept / 2] / 1e3, lat[(kept * 99) / 100] / 1e3, lat[kept - 1] / 1e3);
    free(lat);
    hmk_close(r);
    return 0;
}
