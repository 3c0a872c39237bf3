/*
 * telemetry.h - the daemon's side of a service's reaction-time block
 * (struct hmk_telemetry, include/hmk_svc_abi.h).
 *
 * One block per configured service, made at its first start and kept
 * across its restarts (and reloads), so its numbers add up over the
 * daemon's life. The service writes the counters; the daemon reads them as
 * untrusted numbers: every value shown is what the service claimed, and no
 * value can make the daemon fault, loop or index out of bounds.
 * Library-style: -errno, never logs.
 */
#ifndef HMK_TELEMETRY_H
#define HMK_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "hmk_svc_abi.h"

struct telem {
    int fd;                        /* sealed memfd, -1 before the first start */
    struct hmk_telemetry *m;       /* the daemon's mapping of it */
    uint64_t misses_logged;        /* misses already said in a [DEADLINE] line */
    uint64_t last_line_ms;         /* when the last one was said (0: never) */
};

#define TELEM_INIT { .fd = -1 }
/* at most one [DEADLINE] line per service in this time, after the first */
#define TELEM_LINE_INTERVAL_MS 10000u

struct telem_snap {
    uint64_t deadline_ns, count, misses, max_ns, sum_ns;
    uint64_t hist[HMK_TELEMETRY_BUCKETS];
};

/* Makes the block on the first call, then (re)sets its deadline. */
int telem_open(struct telem *t, uint64_t deadline_ns);
void telem_close(struct telem *t);
void telem_read(const struct telem *t, struct telem_snap *s);
/* Misses to report in a [DEADLINE] line now (0: none due): the first miss at
 * once, later ones gathered, at most every TELEM_LINE_INTERVAL_MS. */
uint64_t telem_misses_due(struct telem *t, const struct telem_snap *s, uint64_t now_ms);
/* The control protocol's record (include/hmk_ctl.h), with the newline. */
int telem_format(const char *name, const struct telem_snap *s, char *buf, size_t len);

#endif
