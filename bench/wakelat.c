/*
 * wakelat - HAL-side change to service wake-up latency through hmk_wait().
 *
 *   wakelat [-s] [-o FILE] [-d SECONDS] PIN COUNT [PERIOD_NS]
 *
 * Waits COUNT times for PIN's in value to change. Each wake-up is timed
 * against the CLOCK_MONOTONIC stamp the bridge took at the start of the
 * cycle in which it saw the change. The bridge publishes the stamp of its
 * latest cycle only, so when it has already moved on by k cycles the
 * change's stamp is taken as latest - k * PERIOD_NS (default 1 ms, the
 * servo period), an estimate that only affects the slow samples.
 *
 * -s  PIN's value is itself the CLOCK_MONOTONIC nanosecond at which HAL
 *     changed it (bench/edgestamp.c): the latency is the wake-up time
 *     minus that value, the same clock every observer in bench/run.sh uses.
 * -o  also write every sample, in nanoseconds, one a line, to FILE.
 * -d  stop after SECONDS even if fewer than COUNT changes came.
 *
 * Prints samples, median, p99 and max in microseconds.
 */
#include "benchutil.h"
#include "halmk.h"
#include "halmk_service.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void usage(void)
{
    fprintf(stderr, "usage: wakelat [-s] [-o FILE] [-d SECONDS] PIN COUNT [PERIOD_NS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    hmk_region *r;
    uint64_t *lat, since, period = 1000000u, deadline = 0;
    const char *out = NULL;
    bool stamped = false;
    unsigned pin;
    long count, kept = 0, tries = 0;
    double secs = 0;
    int ret, i, opt;

    while ((opt = getopt(argc, argv, "so:d:")) != -1) {
        switch (opt) {
        case 's': stamped = true; break;
        case 'o': out = optarg; break;
        case 'd':
            secs = strtod(optarg, NULL);
            if (secs <= 0)
                usage();
            break;
        default: usage();
        }
    }
    argc -= optind;
    argv += optind;
    if (argc < 2 || argc > 3 || (count = strtol(argv[1], NULL, 10)) < 1)
        usage();
    if (argc == 3 && (period = strtoull(argv[2], NULL, 10)) == 0)
        usage();
    ret = hmk_open(NULL, HMK_OPEN_RDONLY, &r);
    if (ret < 0) {
        fprintf(stderr, "wakelat: %s\n", hmk_strerror(ret));
        return 1;
    }
    i = hmk_pin_find(r, argv[0]);
    if (i < 0) {
        fprintf(stderr, "wakelat: pin '%s': no such pin\n", argv[0]);
        return 1;
    }
    pin = (unsigned)i;
    lat = calloc((size_t)count, sizeof(*lat));
    if (!lat) {
        fprintf(stderr, "wakelat: out of memory\n");
        return 1;
    }
    if (secs > 0)
        deadline = bench_now_ns() + (uint64_t)(secs * 1e9);
    since = hmk_cycle(r);
    while (kept < count && tries < count * 2) {
        struct hmk_stats st;
        uint64_t now;
        int wait_ms = 5000;

        if (deadline) {
            uint64_t t = bench_now_ns();
            if (t >= deadline)
                break;
            if ((deadline - t) / 1000000u + 1 < (uint64_t)wait_ms)
                wait_ms = (int)((deadline - t) / 1000000u + 1);
        }
        ret = hmk_wait(r, &pin, 1, &since, wait_ms, NULL);
        now = bench_now_ns();
        if (ret == -ETIMEDOUT && deadline)
            continue;
        if (ret < 0) {
            fprintf(stderr, "wakelat: %s\n", hmk_strerror(ret));
            return 1;
        }
        tries++;
        if (stamped) {
            hmk_value v;
            if (hmk_read_in(r, pin, &v) < 0 || v.type != HMK_TYPE_FLOAT) {
                fprintf(stderr, "wakelat: -s needs a float in pin\n");
                return 1;
            }
            lat[kept++] = (double)now > v.f ? (uint64_t)((double)now - v.f) : 0;
            continue;
        }
        /* the bridge stamps the cycle after it publishes the values: a fast
         * waiter may look before that, so wait (microseconds) for the stamp */
        for (int spin = 0; hmk_stats(r, &st) >= 0 && st.cycle < since && spin < 100000; spin++)
            ;
        if (st.cycle >= since) {
            uint64_t at = st.bridge_time_ns - (st.cycle - since) * period;
            lat[kept++] = now > at ? now - at : 0;
        }
    }
    if (kept == 0) {
        fprintf(stderr, "wakelat: no sample kept\n");
        return 1;
    }
    if (out) {
        double *d = calloc((size_t)kept, sizeof(*d));
        for (long k = 0; d && k < kept; k++)
            d[k] = (double)lat[k];
        if (!d || bench_write_samples(out, d, (size_t)kept) < 0) {
            fprintf(stderr, "wakelat: cannot write %s\n", out);
            return 1;
        }
        free(d);
    }
    qsort(lat, (size_t)kept, sizeof(*lat), cmp_u64);
    printf("samples %ld (of %ld wake-ups) median_us %.1f p99_us %.1f max_us %.1f\n", kept, tries,
           lat[kept / 2] / 1e3, lat[(kept * 99) / 100] / 1e3, lat[kept - 1] / 1e3);
    free(lat);
    hmk_close(r);
    return 0;
}
