/*
 * execns - the bridge's own time per cycle, and the TSC rate.
 *
 *   execns CYCLES SAMPLES_FILE    exec_ns_last of CYCLES distinct cycles
 *   execns --tsc                  TSC ticks per second (x86), to convert
 *                                 HAL's function .time pins, which count
 *                                 CPU clocks (rdtsc) in uspace
 *
 * The bridge publishes its execution time of the latest cycle in the
 * region (hmk_stats exec_ns_last, CLOCK_MONOTONIC around its work). This
 * samples it a few times per servo period and keeps one value per cycle.
 */
#include "benchutil.h"
#include "halmk.h"

#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

static int tsc_rate(void)
{
#if defined(__x86_64__) || defined(__i386__)
    struct timespec pause = { 0, 200000000 };
    uint64_t n0 = bench_now_ns(), c0 = __rdtsc(), n1, c1;
    nanosleep(&pause, NULL);
    n1 = bench_now_ns();
    c1 = __rdtsc();
    printf("%.0f\n", (double)(c1 - c0) * 1e9 / (double)(n1 - n0));
    return 0;
#else
    fprintf(stderr, "execns: no TSC on this architecture\n");
    return 1;
#endif
}

int main(int argc, char **argv)
{
    hmk_region *r;
    double *v;
    long cycles, n = 0;
    uint64_t last = 0, deadline;
    char *end;
    int ret;

    if (argc == 2 && !strcmp(argv[1], "--tsc"))
        return tsc_rate();
    if (argc != 3 || (cycles = strtol(argv[1], &end, 10)) < 1 || *end) {
        fprintf(stderr, "usage: execns CYCLES SAMPLES_FILE | execns --tsc\n");
        return 2;
    }
    ret = hmk_open(NULL, HMK_OPEN_RDONLY, &r);
    if (ret < 0) {
        fprintf(stderr, "execns: %s\n", hmk_strerror(ret));
        return 1;
    }
    v = calloc((size_t)cycles, sizeof(*v));
    if (!v) {
        fprintf(stderr, "execns: out of memory\n");
        return 1;
    }
    deadline = bench_now_ns() + (uint64_t)cycles * 10000000ull + 5000000000ull;
    while (n < cycles && bench_now_ns() < deadline) {
        struct timespec pause = { 0, 250000 };
        struct hmk_stats st;
        if (hmk_stats(r, &st) < 0) {
            fprintf(stderr, "execns: the region went away\n");
            return 1;
        }
        if (st.cycle != last) {
            if (last != 0)
                v[n++] = (double)st.exec_ns_last;
            last = st.cycle;
        }
        nanosleep(&pause, NULL);
    }
    if (bench_write_samples(argv[2], v, (size_t)n) < 0) {
        fprintf(stderr, "execns: cannot write %s\n", argv[2]);
        return 1;
    }
    printf("samples %ld\n", n);
    free(v);
    hmk_close(r);
    return n == cycles ? 0 : 1;
}
