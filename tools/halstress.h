/*
 * halstress internal header: what its three files share. halstress.c is
 * main and the parent (see its top comment for the record and the run),
 * halstress_child.c the record, the latency histogram and the children,
 * halstress_opts.c the options and the choice of pins.
 */
#ifndef HALSTRESS_H
#define HALSTRESS_H

#include "halmk.h"
#include "halmk_tool.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define STRESS_SEQ_BITS     35
#define STRESS_TAG_BITS     43                 /* 8 bits of writer id + seq */
#define STRESS_TAG_MASK     ((UINT64_C(1) << STRESS_TAG_BITS) - 1)
#define STRESS_POS_SPAN     1024u              /* >= the region's pin capacity */
#define STRESS_MAX_WRITERS  255u
#define STRESS_MAX_READERS  1024u
#define STRESS_MAX_PINS     1024u
#define STRESS_MAX_SEQ      ((UINT64_C(1) << STRESS_SEQ_BITS) - 1)
#define STRESS_BUCKETS      1024u              /* log-linear: 16 per power of two */
#define STRESS_REPORTS      3u                 /* torn examples a reader prints */
#define STRESS_SETTLE_MS    2000               /* for HAL to show a record */
#define NS                  1000000000ull

struct stress_cfg {
    unsigned writers, readers;
    double rate;            /* per writer, Hz; 0 = flat out */
    double duration;        /* seconds; 0 = until -n is done */
    uint64_t count;         /* writes per writer; 0 = until -d is up */
    double interval;        /* seconds between reports; 0 = none */
    const char *region;
    const char *pin_list;   /* --pins, NULL = every float pin with an out side */
    bool loopback;
    double kill_rate;       /* --kill: SIGKILLs of a random writer per second */
    unsigned k;             /* pins in a record */
    unsigned pin[STRESS_MAX_PINS];
    unsigned snap_n;        /* in snapshot covers pins [0, snap_n) */
};

/* One per child; each counter has exactly one writer, the child. */
struct stress_slot {
    _Atomic uint64_t writes, reads_out, reads_in;
    _Atomic uint64_t torn_out, torn_in, backwards;
    _Atomic uint64_t lat_max_ns;
    _Atomic uint64_t last_tag;          /* writers: tag of the last commit */
    _Atomic uint64_t attempt_seq;       /* writers: seq being committed (survives a kill) */
    _Atomic uint64_t hist[STRESS_BUCKETS];
    _Atomic int done;                   /* 1 finished, -1 failed */
};

struct stress_shared {
    _Atomic int stop;
    struct stress_slot slot[];
};

struct stress_totals {
    uint64_t writes, reads_out, reads_in, torn_out, torn_in, backwards, lost, lat_max_ns;
    uint64_t hist[STRESS_BUCKETS];
};

/* What a child works on; the parent fills it in before the fork. */
struct stress_child {
    const struct stress_cfg *cfg;
    hmk_region *r;
    struct stress_shared *sh;
    struct stress_slot *slot;
    unsigned id;            /* writer 1..N or reader 1..M */
};

static inline uint64_t stress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static inline void stress_sleep_ns(uint64_t ns)
{
    struct timespec ts = { .tv_sec = (time_t)(ns / NS), .tv_nsec = (long)(ns % NS) };
    nanosleep(&ts, NULL); /* EINTR is fine: every caller re-checks its state */
}

/* One writer per counter: a relaxed load and store, no locked instruction. */
static inline void stress_inc(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static inline uint64_t stress_get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* the record: its tags here, the rest in halstress_child.c */
static inline unsigned stress_tag_writer(uint64_t tag)
{
    return (unsigned)(tag >> STRESS_SEQ_BITS);
}

static inline uint64_t stress_tag_seq(uint64_t tag)
{
    return tag & STRESS_MAX_SEQ;
}

static inline uint64_t stress_make_tag(unsigned writer, uint64_t seq)
{
    return (uint64_t)writer << STRESS_SEQ_BITS | seq;
}

int stress_check(const double *v, unsigned k, uint64_t *tag, unsigned *bad);
int stress_stage(hmk_txn *t, const struct stress_cfg *cfg, uint64_t tag);
double stress_percentile_us(const uint64_t *hist, double p);
void stress_child_main(struct stress_child *c, bool writer);

/* options and pins (halstress_opts.c) */
int stress_parse(struct stress_cfg *cfg, int argc, char **argv);
int stress_pins(hmk_region *r, struct stress_cfg *cfg);

#endif
