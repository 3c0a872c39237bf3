/*
 * halstress: the record, the latency histogram and the children (writers
 * and readers). See halstress.c for what they do and halstress(1).
 */
#include "halstress.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

/* ---- the record --------------------------------------------------------- */

static double stress_value(uint64_t tag, unsigned j, unsigned k)
{
    uint64_t t = j + 1 == k ? (~tag & STRESS_TAG_MASK) : tag;
    return (double)(t * STRESS_POS_SPAN + j);
}

/* The tag that value v carries at position j, or false if v is no value of
 * a record at that position. */
static bool stress_decode(double v, unsigned j, uint64_t *tag)
{
    uint64_t t;

    if (!(v >= 0.0 && v < 0x1p53))
        return false;
    t = (uint64_t)v;
    if ((double)t != v || t % STRESS_POS_SPAN != j)
        return false;
    *tag = t / STRESS_POS_SPAN;
    return true;
}

/* 0 and the record's tag if v[0..k) is one whole record; else -1 and the
 * first position that does not belong with position 0. */
int stress_check(const double *v, unsigned k, uint64_t *tag, unsigned *bad)
{
    uint64_t t0, t;

    *bad = 0;
    if (!stress_decode(v[0], 0, &t0))
        return -1;
    for (unsigned j = 1; j < k; j++) {
        if (!stress_decode(v[j], j, &t))
            t = UINT64_MAX;
        else if (j + 1 == k)
            t = ~t & STRESS_TAG_MASK;
        if (t != t0) {
            *bad = j;
            return -1;
        }
    }
    *tag = t0;
    return 0;
}

/* ---- latency histogram --------------------------------------------------- */

static unsigned stress_bucket(uint64_t ns)
{
    unsigned msb;

    if (ns < 16)
        return (unsigned)ns;
    msb = 63u - (unsigned)__builtin_clzll(ns);
    return (msb - 3u) * 16u + (unsigned)((ns >> (msb - 4u)) & 15u);
}

/* The middle of a bucket's range, in ns. */
static double stress_bucket_ns(unsigned b)
{
    unsigned msb = b / 16u + 3u;
    double lo, width;

    if (b < 16)
        return b;
    lo = ldexp(16.0 + b % 16u, (int)msb - 4);
    width = ldexp(1.0, (int)msb - 4);
    return lo + width / 2;
}

double stress_percentile_us(const uint64_t *hist, double p)
{
    uint64_t total = 0, seen = 0, want;

    for (unsigned b = 0; b < STRESS_BUCKETS; b++)
        total += hist[b];
    if (total == 0)
        return 0;
    want = (uint64_t)ceil(p * (double)total);
    if (want == 0)
        want = 1;
    for (unsigned b = 0; b < STRESS_BUCKETS; b++) {
        seen += hist[b];
        if (seen >= want)
            return stress_bucket_ns(b) / 1000.0;
    }
    return 0;
}

/* ---- children ------------------------------------------------------------ */

static bool stress_stopped(const struct stress_child *c)
{
    return atomic_load_explicit(&c->sh->stop, memory_order_relaxed) != 0;
}

int stress_stage(hmk_txn *t, const struct stress_cfg *cfg, uint64_t tag)
{
    for (unsigned j = 0; j < cfg->k; j++) {
        hmk_value v = { .type = HMK_TYPE_FLOAT, .f = stress_value(tag, j, cfg->k) };
        int ret = hmk_txn_set(t, cfg->pin[j], &v);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static void stress_record_latency(struct stress_slot *s, uint64_t ns)
{
    stress_inc(&s->hist[stress_bucket(ns)]);
    if (ns > stress_get(&s->lat_max_ns))
        atomic_store_explicit(&s->lat_max_ns, ns, memory_order_relaxed);
}

/* Paces a writer at --rate without bursts: a writer that fell more than a
 * period behind starts a new schedule instead of catching up. */
static void stress_pace(uint64_t period, uint64_t *next)
{
    uint64_t now = stress_now();
    struct timespec ts;

    *next += period;
    if (*next + period < now) {
        *next = now;
        return;
    }
    ts.tv_sec = (time_t)(*next / NS);
    ts.tv_nsec = (long)(*next % NS);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static int stress_writer(struct stress_child *c)
{
    const struct stress_cfg *cfg = c->cfg;
    uint64_t period = cfg->rate > 0 ? (uint64_t)(1e9 / cfg->rate) : 0, next = stress_now();
    /* a writer started in place of a killed one resumes after the seq the
     * dead one was attempting, which may or may not have been committed */
    uint64_t first = stress_get(&c->slot->attempt_seq) + 1;
    hmk_txn *t = NULL;
    int ret = hmk_txn_new(c->r, &t);

    if (ret < 0)
        goto fail;
    for (uint64_t seq = first; !stress_stopped(c) && (cfg->count == 0 || seq <= cfg->count);
         seq++) {
        uint64_t tag = stress_make_tag(c->id, seq), t0;

        if (seq > STRESS_MAX_SEQ)
            break; /* 3.4e10 records: no run gets here, but never reuse a tag */
        if (period)
            stress_pace(period, &next);
        ret = stress_stage(t, cfg, tag);
        if (ret < 0)
            goto fail;
        atomic_store_explicit(&c->slot->attempt_seq, seq, memory_order_relaxed);
        t0 = stress_now();
        ret = hmk_txn_commit(t);
        if (ret < 0)
            goto fail;
        stress_record_latency(c->slot, stress_now() - t0);
        atomic_store_explicit(&c->slot->last_tag, tag, memory_order_relaxed);
        stress_inc(&c->slot->writes);
    }
    hmk_txn_free(t);
    return 0;
fail:
    fprintf(stderr, "halstress: writer %u: region '%s': %s\n", c->id, hmk_region_name(c->r),
            hmk_strerror(ret));
    hmk_txn_free(t);
    return ret;
}

struct stress_view {            /* one reader's view of one path */
    const char *what;           /* "out" or "in" */
    uint64_t *last_seq;         /* per writer id, the newest seq seen */
    _Atomic uint64_t *torn, *reads;
    unsigned reports;
};

static void stress_report_torn(const struct stress_child *c, struct stress_view *vw,
                               const double *v, unsigned bad)
{
    struct hmk_pin_info a, b;
    uint64_t t0 = 0, tb = 0;
    bool ok0 = stress_decode(v[0], 0, &t0), okb = stress_decode(v[bad], bad, &tb);

    if (vw->reports++ >= STRESS_REPORTS)
        return;
    if (okb && bad + 1 == c->cfg->k)
        tb = ~tb & STRESS_TAG_MASK;
    hmk_pin_info(c->r, c->cfg->pin[0], &a);
    hmk_pin_info(c->r, c->cfg->pin[bad], &b);
    fprintf(stderr, "halstress: reader %u: torn %s snapshot: %s=%.17g (%s writer %u seq %llu), "
            "%s=%.17g (%s writer %u seq %llu)\n", c->id, vw->what,
            a.name, v[0], ok0 ? "record of" : "not a value of", stress_tag_writer(t0),
            (unsigned long long)stress_tag_seq(t0),
            b.name, v[bad], okb ? "record of" : "not a value of", stress_tag_writer(tb),
            (unsigned long long)stress_tag_seq(tb));
}

/* Checks one snapshot of the record's values: whole, and per writer never
 * older than one this reader already saw on the same path. */
static void stress_verify(const struct stress_child *c, struct stress_view *vw, const double *v)
{
    uint64_t tag, seq;
    unsigned bad, w;

    stress_inc(vw->reads);
    if (stress_check(v, c->cfg->k, &tag, &bad) < 0) {
        stress_inc(vw->torn);
        stress_report_torn(c, vw, v, bad);
        return;
    }
    w = stress_tag_writer(tag);
    seq = stress_tag_seq(tag);
    if (w == 0)
        return; /* the parent's start record */
    if (w > c->cfg->writers) {
        /* a whole record, but no writer of this run made it */
        stress_inc(vw->torn);
        if (vw->reports++ < STRESS_REPORTS)
            fprintf(stderr, "halstress: reader %u: %s record of writer %u, which this run does "
                    "not have (another halstress on these pins?)\n", c->id, vw->what, w);
        return;
    }
    if (seq < vw->last_seq[w]) {
        stress_inc(&c->slot->backwards);
        if (vw->reports++ < STRESS_REPORTS)
            fprintf(stderr, "halstress: reader %u: %s went backwards: writer %u seq %llu after "
                    "seq %llu\n", c->id, vw->what, w, (unsigned long long)seq,
                    (unsigned long long)vw->last_seq[w]);
        return;
    }
    vw->last_seq[w] = seq;
}

static int stress_read_out(const struct stress_child *c, hmk_value *tmp, double *v)
{
    int ret = hmk_read_outs(c->r, c->cfg->pin, c->cfg->k, tmp);

    for (unsigned j = 0; ret >= 0 && j < c->cfg->k; j++)
        v[j] = tmp[j].f;
    return ret;
}

static int stress_read_in(const struct stress_child *c, hmk_value *snap, double *v)
{
    int ret = hmk_snapshot(c->r, snap, c->cfg->snap_n, NULL);

    for (unsigned j = 0; ret >= 0 && j < c->cfg->k; j++)
        v[j] = snap[c->cfg->pin[j]].f;
    return ret;
}

static int stress_reader(struct stress_child *c)
{
    const struct stress_cfg *cfg = c->cfg;
    struct stress_view out = { "out", NULL, &c->slot->torn_out, &c->slot->reads_out, 0 };
    struct stress_view in = { "in", NULL, &c->slot->torn_in, &c->slot->reads_in, 0 };
    hmk_value *tmp = calloc(cfg->snap_n > cfg->k ? cfg->snap_n : cfg->k, sizeof(*tmp));
    double *v = calloc(cfg->k, sizeof(*v));
    int ret = -ENOMEM;

    out.last_seq = calloc(cfg->writers + 1, sizeof(uint64_t));
    in.last_seq = calloc(cfg->writers + 1, sizeof(uint64_t));
    if (!tmp || !v || !out.last_seq || !in.last_seq)
        goto fail;
    while (!stress_stopped(c)) {
        ret = stress_read_out(c, tmp, v);
        if (ret < 0)
            goto fail;
        stress_verify(c, &out, v);
        if (!cfg->loopback)
            continue;
        ret = stress_read_in(c, tmp, v);
        if (ret < 0)
            goto fail;
        stress_verify(c, &in, v);
    }
    ret = 0;
fail:
    if (ret < 0)
        fprintf(stderr, "halstress: reader %u: region '%s': %s\n", c->id, hmk_region_name(c->r),
                hmk_strerror(ret));
    free(tmp);
    free(v);
    free(out.last_seq);
    free(in.last_seq);
    return ret;
}

/* Runs in the child after fork; never returns. */
void stress_child_main(struct stress_child *c, bool writer)
{
    struct sigaction ign = { .sa_handler = SIG_IGN }, dfl = { .sa_handler = SIG_DFL };
    int ret;

    /* the parent stops us through the stop flag (Ctrl-C reaches the whole
     * process group); SIGTERM, also what we get if the parent dies, ends
     * us: never run on for ever */
    sigaction(SIGINT, &ign, NULL);
    sigaction(SIGTERM, &dfl, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1)
        _exit(1);
    ret = writer ? stress_writer(c) : stress_reader(c);
    atomic_store_explicit(&c->slot->done, ret < 0 ? -1 : 1, memory_order_release);
    hmk_close(c->r);
    free((void *)c->cfg);
    /* _exit: the parent's unflushed stdio buffers are not ours to write */
    _exit(ret < 0 ? 1 : 0);
}
