/*
 * roundtrip - service -> HAL out pin -> net -> HAL in pin -> service.
 *
 *   roundtrip OUTPIN INPIN COUNT SAMPLES_FILE
 *
 * OUTPIN is netted to INPIN in HAL. COUNT times: write a new value to
 * OUTPIN (a one-pin transaction), block in hmk_wait() on INPIN until the
 * bridge publishes that value, and record the time from just before the
 * commit to the wake-up, in nanoseconds, into SAMPLES_FILE. Between rounds
 * it sleeps a pseudo-random 0..1 ms so that commits land at every phase of
 * the servo cycle rather than always just after the bridge ran. Prints
 *   samples N cycles_median C
 * (bridge cycles from commit to the cycle that published the value).
 */
#include "benchutil.h"
#include "halmk.h"
#include "halmk_tool.h"
#include "halmk_service.h"

#include <stdlib.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    hmk_region *r;
    double *lat;
    uint64_t *cyc;
    long count, n = 0;
    int out, in, ret;
    unsigned rng = 12345u;
    char *end;

    if (argc != 5 || (count = strtol(argv[3], &end, 10)) < 1 || *end) {
        fprintf(stderr, "usage: roundtrip OUTPIN INPIN COUNT SAMPLES_FILE\n");
        return 2;
    }
    ret = hmk_open(NULL, 0, &r);
    if (ret < 0) {
        fprintf(stderr, "roundtrip: %s\n", hmk_strerror(ret));
        return 1;
    }
    out = hmk_pin_find(r, argv[1]);
    in = hmk_pin_find(r, argv[2]);
    if (out < 0 || in < 0) {
        fprintf(stderr, "roundtrip: pin '%s': no such pin\n", out < 0 ? argv[1] : argv[2]);
        return 1;
    }
    lat = calloc((size_t)count, sizeof(*lat));
    cyc = calloc((size_t)count, sizeof(*cyc));
    if (!lat || !cyc) {
        fprintf(stderr, "roundtrip: out of memory\n");
        return 1;
    }
    for (long k = 0; k < count; k++) {
        unsigned pin = (unsigned)in;
        double want = (double)(k + 1) + 0.5;
        uint64_t since = hmk_cycle(r), c0 = since, t0;
        struct timespec pause;
        hmk_value v;

        rng = rng * 1103515245u + 12345u;
        pause.tv_sec = 0;
        pause.tv_nsec = (long)((rng >> 8) % 1000000u);
        nanosleep(&pause, NULL);
        since = c0 = hmk_cycle(r);
        t0 = bench_now_ns();
        ret = hmk_write_float(r, (unsigned)out, want);
        if (ret < 0) {
            fprintf(stderr, "roundtrip: write %s: %s\n", argv[1], hmk_strerror(ret));
            return 1;
        }
        for (;;) {
            ret = hmk_wait(r, &pin, 1, &since, 2000, NULL);
            if (ret < 0) {
                fprintf(stderr, "roundtrip: waiting for %s: %s (is it netted to %s?)\n", argv[2],
                        hmk_strerror(ret), argv[1]);
                return 1;
            }
            if (hmk_read_in(r, pin, &v) >= 0 && v.f == want)
                break;
        }
        lat[n] = (double)(bench_now_ns() - t0);
        cyc[n++] = since - c0;
    }
    if (bench_write_samples(argv[4], lat, (size_t)n) < 0) {
        fprintf(stderr, "roundtrip: cannot write %s\n", argv[4]);
        return 1;
    }
    qsort(cyc, (size_t)n, sizeof(*cyc), cmp_u64);
    printf("samples %ld cycles_median %llu\n", n, (unsigned long long)cyc[n / 2]);
    free(lat);
    free(cyc);
    hmk_close(r);
    return 0;
}
