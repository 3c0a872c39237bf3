/*
 * pipelat - latency of a change seen through a text stream (halsampler).
 *
 *   halsampler ... | pipelat SAMPLES_FILE
 *
 * Reads lines whose first field is the value of edgestamp.stamp (the
 * CLOCK_MONOTONIC nanosecond at which HAL changed it, see edgestamp.c).
 * When the value differs from the previous line's, records
 * now - value in nanoseconds: the time from the change in HAL to the line
 * that shows it reaching this reader. The first line only sets the
 * starting value. Writes the samples at end of input and prints
 *   samples N lines L
 */
#include "benchutil.h"

#include <stdlib.h>

int main(int argc, char **argv)
{
    char line[4096];
    double prev = -1.0, *v = NULL;
    size_t n = 0, cap = 0, lines = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: pipelat SAMPLES_FILE < stream\n");
        return 2;
    }
    while (fgets(line, sizeof(line), stdin)) {
        uint64_t now = bench_now_ns();
        char *end;
        double stamp = strtod(line, &end);

        if (end == line)
            continue; /* "overrun" and other notes */
        lines++;
        if (prev >= 0 && stamp != prev && stamp > 0) {
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                v = realloc(v, cap * sizeof(*v));
                if (!v) {
                    fprintf(stderr, "pipelat: out of memory\n");
                    return 1;
                }
            }
            v[n++] = (double)now - stamp;
        }
        prev = stamp;
    }
    if (bench_write_samples(argv[1], v, n) < 0) {
        fprintf(stderr, "pipelat: cannot write %s\n", argv[1]);
        return 1;
    }
    printf("samples %zu lines %zu\n", n, lines);
    free(v);
    return 0;
}
