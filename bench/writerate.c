/*
 * writerate - pin writes per second through libhalmk.
 *
 *   writerate PINS SECONDS
 *
 * Commits transactions of PINS pins (the out sides of pin.0 .. pin.PINS-1,
 * float slots) back to back for SECONDS, each with new values, and prints
 *   pins P txns T seconds S txn_per_s X pin_writes_per_s Y
 * A write here is a committed store into the region; the bridge applies the
 * latest committed values to HAL once per servo cycle.
 */
#include "benchutil.h"
#include "halmk.h"

#include <stdlib.h>

int main(int argc, char **argv)
{
    hmk_region *r;
    hmk_txn *t;
    char *end;
    long pins;
    double secs;
    uint64_t txns = 0, t0, t1, limit;
    int ret;

    if (argc != 3 || (pins = strtol(argv[1], &end, 10)) < 1 || *end
        || (secs = strtod(argv[2], &end)) <= 0 || *end) {
        fprintf(stderr, "usage: writerate PINS SECONDS\n");
        return 2;
    }
    ret = hmk_open(NULL, 0, &r);
    if (ret < 0) {
        fprintf(stderr, "writerate: %s\n", hmk_strerror(ret));
        return 1;
    }
    if ((unsigned long)pins > hmk_pin_count(r)) {
        fprintf(stderr, "writerate: %ld pins asked, the region has %u\n", pins, hmk_pin_count(r));
        return 1;
    }
    ret = hmk_txn_new(r, &t);
    if (ret < 0) {
        fprintf(stderr, "writerate: %s\n", hmk_strerror(ret));
        return 1;
    }
    t0 = bench_now_ns();
    limit = t0 + (uint64_t)(secs * 1e9);
    do {
        for (long i = 0; i < pins; i++) {
            hmk_value v = { .type = HMK_TYPE_FLOAT, .f = (double)(txns + (uint64_t)i) };
            ret = hmk_txn_set(t, (unsigned)i, &v);
            if (ret < 0) {
                fprintf(stderr, "writerate: pin.%ld: %s\n", i, hmk_strerror(ret));
                return 1;
            }
        }
        ret = hmk_txn_commit(t);
        if (ret < 0) {
            fprintf(stderr, "writerate: commit: %s\n", hmk_strerror(ret));
            return 1;
        }
        txns++;
        t1 = bench_now_ns();
    } while (t1 < limit);
    secs = (double)(t1 - t0) / 1e9;
    printf("pins %ld txns %llu seconds %.3f txn_per_s %.0f pin_writes_per_s %.0f\n", pins,
           (unsigned long long)txns, secs, (double)txns / secs, (double)txns * (double)pins / secs);
    hmk_txn_free(t);
    hmk_close(r);
    return 0;
}
