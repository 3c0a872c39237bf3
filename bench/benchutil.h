/*
 * benchutil.h - small helpers shared by the benchmark programs in bench/:
 * the monotonic clock in nanoseconds and writing raw samples. The programs
 * print raw samples (one number a line) and bench/run.sh computes every
 * median and percentile the same way for all of them.
 */
#ifndef HMK_BENCHUTIL_H
#define HMK_BENCHUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Writes n samples, one a line, to path ("-" = stdout). 0 or -1. */
static inline int bench_write_samples(const char *path, const double *v, size_t n)
{
    FILE *f = path[0] == '-' && path[1] == '\0' ? stdout : fopen(path, "w");
    if (!f)
        return -1;
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%.0f\n", v[i]);
    if (f != stdout)
        return fclose(f) == 0 ? 0 : -1;
    return fflush(f) == 0 ? 0 : -1;
}

#endif
