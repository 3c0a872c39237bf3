/*
 * halstress - load and verify hal-microkernel.
 *
 *   halstress [-w N] [-r M] [--rate HZ] [-d SEC | -n WRITES] [-i SEC]
 *             [-R REGION] [--pins a,b,...] [--loopback] [--kill HZ]
 *
 * N writer processes commit records to K float pins as transactions; M
 * reader processes read the out values back (one consistent latch read)
 * and, with --loopback, the in values the bridge took from HAL after the
 * HAL config netted each slot's .out to its .in. Every snapshot is checked:
 *
 *   tag    = writer << 35 | seq          (writer 1..255, seq 1..2^35-1)
 *   pin j  = tag * 1024 + j              for j < K-1
 *   pin K-1= (~tag mod 2^43) * 1024 + K-1
 *
 * Every value is an integer below 2^53, so exact in a double. Two records
 * never share a tag, so any mix of two records breaks the relation: either
 * two pins decode to different tags or the last pin is not the complement
 * of the others' tag. A torn snapshot is therefore detected with certainty.
 * Per writer, the seq a reader sees must never go backwards (a lost
 * update); at the end the last record of each writer must be the one left
 * in the region and, with --loopback, in HAL.
 *
 * With --kill the parent SIGKILLs a random writer at random moments (on
 * average HZ times a second), mostly in the middle of a commit since that
 * is where a flat-out writer spends its time, and starts a new writer in
 * its place that goes on with the dead one's sequence (from the seq it was
 * attempting, plus one: a seq is never reused). The next writer to take
 * the lock must recover it and repair the half-written copy; readers and
 * HAL must never see the half record.
 *
 * Children report through a shared anonymous mapping (one slot each, one
 * writer per counter); the parent prints statistics every interval and at
 * the end. Exit 0: nothing torn, nothing lost; 1: something was, or an
 * error; 2: usage. See halstress(1).
 */
#include "halmk.h"
#include "halmk_tool.h"
#include "hmk_version.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

static volatile sig_atomic_t stress_interrupted;

static void stress_on_signal(int sig)
{
    (void)sig;
    stress_interrupted = 1;
}

static uint64_t stress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static void stress_sleep_ns(uint64_t ns)
{
    struct timespec ts = { .tv_sec = (time_t)(ns / NS), .tv_nsec = (long)(ns % NS) };
    nanosleep(&ts, NULL); /* EINTR is fine: every caller re-checks its state */
}

/* One writer per counter: a relaxed load and store, no locked instruction. */
static void stress_inc(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static uint64_t stress_get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

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
static int stress_check(const double *v, unsigned k, uint64_t *tag, unsigned *bad)
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

static unsigned stress_tag_writer(uint64_t tag) { return (unsigned)(tag >> STRESS_SEQ_BITS); }
static uint64_t stress_tag_seq(uint64_t tag) { return tag & STRESS_MAX_SEQ; }

static uint64_t stress_make_tag(unsigned writer, uint64_t seq)
{
    return (uint64_t)writer << STRESS_SEQ_BITS | seq;
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

static double stress_percentile_us(const uint64_t *hist, double p)
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

struct stress_child {
    const struct stress_cfg *cfg;
    hmk_region *r;
    struct stress_shared *sh;
    struct stress_slot *slot;
    unsigned id;            /* writer 1..N or reader 1..M */
};

static bool stress_stopped(const struct stress_child *c)
{
    return atomic_load_explicit(&c->sh->stop, memory_order_relaxed) != 0;
}

static int stress_stage(hmk_txn *t, const struct stress_cfg *cfg, uint64_t tag)
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
static void stress_child_main(struct stress_child *c, bool writer)
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

/* ---- options ------------------------------------------------------------- */

static void stress_usage(FILE *f)
{
    fprintf(f,
        "Usage: halstress [OPTION]...\n"
        "Load hal-microkernel with N writer and M reader processes and verify every\n"
        "snapshot: no torn record, no lost update. Exit 0 if none was seen, 1 if one\n"
        "was (or on error), 2 on bad usage.\n"
        "  -w, --writers N      writer processes (1..255, default 1)\n"
        "  -r, --readers M      reader processes (0..1024, default 1)\n"
        "      --rate HZ        records per second per writer (default: flat out)\n"
        "  -d, --duration SEC   run time (default 10, or until -n is done)\n"
        "  -n, --count WRITES   records per writer, then stop\n"
        "  -i, --interval SEC   statistics every SEC seconds (default 1, 0: end only)\n"
        "  -R, --region NAME    region (default $HAL_MICROKERNEL_REGION or hal-microkernel)\n"
        "      --pins A,B,...   record pins (default: every float pin with an out side)\n"
        "      --loopback       also verify the in values: HAL nets each pin's out to its in\n"
        "      --kill HZ        SIGKILL a random writer HZ times a second on average and\n"
        "                       start a new one in its place\n"
        "  -h, --help           this text\n"
        "See halstress(1).\n");
}

static int stress_bad(const char *opt, const char *arg, const char *why)
{
    fprintf(stderr, "halstress: %s '%s': %s\n", opt, arg, why);
    return -EINVAL;
}

static int stress_parse_uint(const char *opt, const char *s, uint64_t min, uint64_t max,
                             uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
        char why[96];
        snprintf(why, sizeof(why), "must be a whole number from %llu to %llu",
                 (unsigned long long)min, (unsigned long long)max);
        return stress_bad(opt, s, why);
    }
    *out = v;
    return 0;
}

static int stress_parse_secs(const char *opt, const char *s, double min, double max, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min || v > max) {
        char why[96];
        snprintf(why, sizeof(why), "must be a number from %g to %g", min, max);
        return stress_bad(opt, s, why);
    }
    *out = v;
    return 0;
}

static int stress_option(struct stress_cfg *cfg, int c, const char *arg)
{
    uint64_t u;
    int ret = 0;

    switch (c) {
    case 'w': ret = stress_parse_uint("--writers", arg, 1, STRESS_MAX_WRITERS, &u);
              cfg->writers = (unsigned)u; break;
    case 'r': ret = stress_parse_uint("--readers", arg, 0, STRESS_MAX_READERS, &u);
              cfg->readers = (unsigned)u; break;
    case 'n': ret = stress_parse_uint("--count", arg, 1, STRESS_MAX_SEQ, &cfg->count); break;
    case 'Z': ret = stress_parse_secs("--rate", arg, 0.001, 1e9, &cfg->rate); break;
    case 'd': ret = stress_parse_secs("--duration", arg, 0.001, 1e7, &cfg->duration); break;
    case 'i': ret = stress_parse_secs("--interval", arg, 0, 1e7, &cfg->interval); break;
    case 'R': cfg->region = arg; break;
    case 'P': cfg->pin_list = arg; break;
    case 'L': cfg->loopback = true; break;
    case 'K': ret = stress_parse_secs("--kill", arg, 0.001, 10000, &cfg->kill_rate); break;
    default: ret = -EINVAL; break;
    }
    return ret;
}

/* getopt's own messages do not say which option of ours; these do. */
static int stress_opt_error(int c, char **argv)
{
    const char *opt = argv[optind - 1];

    if (c == ':')
        fprintf(stderr, "halstress: option '%s' needs a value (see halstress --help)\n", opt);
    else if (optopt)
        fprintf(stderr, "halstress: unknown option '-%c' (see halstress --help)\n", optopt);
    else
        fprintf(stderr, "halstress: unknown option '%s' (see halstress --help)\n", opt);
    return 2;
}

/* Returns -1 to go on, else the exit status. */
static int stress_parse(struct stress_cfg *cfg, int argc, char **argv)
{
    static const struct option opts[] = {
        { "writers", required_argument, NULL, 'w' },  { "readers", required_argument, NULL, 'r' },
        { "rate", required_argument, NULL, 'Z' },     { "duration", required_argument, NULL, 'd' },
        { "count", required_argument, NULL, 'n' },    { "interval", required_argument, NULL, 'i' },
        { "region", required_argument, NULL, 'R' },   { "pins", required_argument, NULL, 'P' },
        { "loopback", no_argument, NULL, 'L' },       { "help", no_argument, NULL, 'h' },
        { "kill", required_argument, NULL, 'K' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    cfg->writers = 1;
    cfg->readers = 1;
    cfg->interval = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":w:r:d:n:i:R:h", opts, NULL)) != -1) {
        if (c == 'h') {
            stress_usage(stdout);
            return 0;
        }
        if (c == 'V') {
            puts("halstress " HMK_VERSION);
            return 0;
        }
        if (c == '?' || c == ':')
            return stress_opt_error(c, argv);
        if (stress_option(cfg, c, optarg) < 0)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "halstress: unexpected argument '%s' (see halstress --help)\n",
                argv[optind]);
        return 2;
    }
    if (cfg->duration == 0 && cfg->count == 0)
        cfg->duration = 10;
    return -1;
}

/* ---- pins ---------------------------------------------------------------- */

/* Why pin i cannot carry a record, or NULL if it can. */
static const char *stress_pin_unfit(hmk_region *r, const struct stress_cfg *cfg, unsigned i)
{
    struct hmk_pin_info info;

    hmk_pin_info(r, i, &info);
    if (info.type != HMK_TYPE_FLOAT)
        return "not a float pin";
    if (!(info.dir & HMK_DIR_OUT))
        return "has no out side (direction in)";
    if (cfg->loopback && !(info.dir & HMK_DIR_IN))
        return "has no in side, so --loopback cannot read it back (use slots or io pins)";
    return NULL;
}

static int stress_add_pin(struct stress_cfg *cfg, unsigned i, const char *name)
{
    for (unsigned j = 0; j < cfg->k; j++)
        if (cfg->pin[j] == i)
            return stress_bad("--pins", name, "named twice");
    cfg->pin[cfg->k++] = i;
    if (i + 1 > cfg->snap_n)
        cfg->snap_n = i + 1;
    return 0;
}

static int stress_pins_listed(hmk_region *r, struct stress_cfg *cfg)
{
    char *copy = strdup(cfg->pin_list), *save = NULL;
    int ret = copy ? 0 : -ENOMEM;

    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && ret == 0;
         tok = strtok_r(NULL, ",", &save)) {
        int i = hmk_pin_find(r, tok);
        const char *why;

        if (i < 0)
            ret = stress_bad("--pins", tok, "no such pin in the region (see halpoke --list)");
        else if ((why = stress_pin_unfit(r, cfg, (unsigned)i)) != NULL)
            ret = stress_bad("--pins", tok, why);
        else
            ret = stress_add_pin(cfg, (unsigned)i, tok);
    }
    free(copy);
    return ret;
}

static int stress_pins(hmk_region *r, struct stress_cfg *cfg)
{
    int ret = 0;

    if (cfg->pin_list) {
        ret = stress_pins_listed(r, cfg);
    } else {
        for (unsigned i = 0; i < hmk_pin_count(r) && ret == 0; i++)
            if (!stress_pin_unfit(r, cfg, i))
                ret = stress_add_pin(cfg, i, "");
    }
    if (ret == 0 && cfg->k < 2) {
        fprintf(stderr, "halstress: --pins: a record needs at least 2 float pins with an out "
                "side%s; region '%s' gives %u\n", cfg->loopback ? " and an in side" : "",
                hmk_region_name(r), cfg->k);
        ret = -EINVAL;
    }
    return ret;
}

/* ---- the parent ---------------------------------------------------------- */

struct stress_run {
    struct stress_cfg *cfg;
    hmk_region *r;
    struct stress_shared *sh;
    size_t sh_size;
    pid_t *pid;
    unsigned children, running;
    bool failed;             /* a child failed, or a check of the parent did */
    uint64_t *spawn_writes;  /* per writer: its commit count when it was (re)started */
    uint64_t kills, restarts, next_kill, rng;
    struct hmk_stats st0;
    uint64_t t0;
};

static unsigned stress_nchildren(const struct stress_cfg *cfg)
{
    return cfg->writers + cfg->readers;
}

/* Commits record `tag` as one transaction. */
static int stress_commit_record(struct stress_run *run, uint64_t tag)
{
    hmk_txn *t = NULL;
    int ret = hmk_txn_new(run->r, &t);

    if (ret >= 0)
        ret = stress_stage(t, run->cfg, tag);
    if (ret >= 0)
        ret = hmk_txn_commit(t);
    hmk_txn_free(t);
    return ret < 0 ? ret : 0;
}

/* Waits until a side shows record `tag` whole: the out side once the bridge
 * applied it (readers of out pins see what HAL got, not what was committed),
 * the in side (in = true, --loopback) once HAL's nets carried it over. */
static int stress_await(struct stress_run *run, uint64_t tag, bool in)
{
    const struct stress_cfg *cfg = run->cfg;
    uint64_t end = stress_now() + STRESS_SETTLE_MS * 1000000ull, got;
    hmk_value *snap = calloc(cfg->snap_n > cfg->k ? cfg->snap_n : cfg->k, sizeof(*snap));
    double *v = calloc(cfg->k, sizeof(*v));
    int ret = snap && v ? -ETIMEDOUT : -ENOMEM;
    unsigned bad;

    while (ret == -ETIMEDOUT && stress_now() < end) {
        int e = in ? hmk_snapshot(run->r, snap, cfg->snap_n, NULL)
                   : hmk_read_outs(run->r, cfg->pin, cfg->k, snap);
        if (e < 0 && e != -EAGAIN) {
            ret = e;
            break;
        }
        for (unsigned j = 0; e >= 0 && j < cfg->k; j++)
            v[j] = in ? snap[cfg->pin[j]].f : snap[j].f;
        if (e >= 0 && stress_check(v, cfg->k, &got, &bad) == 0 && got == tag)
            ret = 0;
        else
            stress_sleep_ns(1000000);
    }
    free(snap);
    free(v);
    return ret;
}

/* The record readers start from: committed, and applied by the bridge before
 * any reader runs (a reader that saw the pins' values from before it would
 * take them for a torn record). */
static int stress_start_record(struct stress_run *run)
{
    int ret = stress_commit_record(run, 0);

    if (ret < 0) {
        fprintf(stderr, "halstress: region '%s': cannot write the pins: %s\n",
                hmk_region_name(run->r), hmk_strerror(ret));
        return ret;
    }
    ret = stress_await(run, 0, false);
    if (ret == -ETIMEDOUT) {
        fprintf(stderr, "halstress: the bridge did not apply a write within %d ms; start the thread "
                "that runs its functions (see halstress(1))\n", STRESS_SETTLE_MS);
        return ret;
    }
    if (ret >= 0 && run->cfg->loopback)
        ret = stress_await(run, 0, true);
    if (ret == -ETIMEDOUT)
        fprintf(stderr, "halstress: --loopback: HAL's in pins did not follow the out pins within "
                "%d ms; net each slot's .out to its .in and start the thread "
                "(see halstress(1))\n", STRESS_SETTLE_MS);
    else if (ret < 0)
        fprintf(stderr, "halstress: region '%s': %s\n", hmk_region_name(run->r),
                hmk_strerror(ret));
    return ret;
}

/* Forks child n: writers are 0..N-1, readers follow. */
static int stress_spawn(struct stress_run *run, unsigned n)
{
    bool writer = n < run->cfg->writers;
    struct stress_child c = {
        .cfg = run->cfg, .r = run->r, .sh = run->sh, .slot = &run->sh->slot[n],
        .id = writer ? n + 1 : n + 1 - run->cfg->writers,
    };
    pid_t p;

    fflush(stdout);
    fflush(stderr);
    p = fork();
    if (p < 0) {
        int e = errno;
        fprintf(stderr, "halstress: fork: %s\n", strerror(e));
        return -e;
    }
    if (p == 0) {
        free(run->pid);
        free(run->spawn_writes);
        stress_child_main(&c, writer);
    }
    run->pid[n] = p;
    run->running++;
    if (writer)
        run->spawn_writes[n] = stress_get(&run->sh->slot[n].writes);
    return 0;
}

static int stress_fork(struct stress_run *run)
{
    for (unsigned n = 0; n < run->children; n++) {
        int ret = stress_spawn(run, n);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static void stress_sum(const struct stress_run *run, struct stress_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (unsigned n = 0; n < run->children; n++) {
        const struct stress_slot *s = &run->sh->slot[n];
        uint64_t m = stress_get(&s->lat_max_ns);

        t->writes += stress_get(&s->writes);
        t->reads_out += stress_get(&s->reads_out);
        t->reads_in += stress_get(&s->reads_in);
        t->torn_out += stress_get(&s->torn_out);
        t->torn_in += stress_get(&s->torn_in);
        t->backwards += stress_get(&s->backwards);
        t->lat_max_ns = m > t->lat_max_ns ? m : t->lat_max_ns;
        for (unsigned b = 0; b < STRESS_BUCKETS; b++)
            t->hist[b] += stress_get(&s->hist[b]);
    }
}

/* Child n ended with `status` (and is reaped): a failure stops the run. */
static void stress_ended(struct stress_run *run, unsigned n, int status)
{
    bool writer = n < run->cfg->writers;

    run->pid[n] = 0;
    run->running--;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return;
    if (WIFSIGNALED(status))
        fprintf(stderr, "halstress: %s %u: killed by signal %d\n", writer ? "writer" : "reader",
                writer ? n + 1 : n + 1 - run->cfg->writers, WTERMSIG(status));
    run->failed = true;
    atomic_store_explicit(&run->sh->stop, 1, memory_order_relaxed);
}

/* Reaps children that exited. */
static void stress_reap(struct stress_run *run, int flags)
{
    for (unsigned n = 0; n < run->children && run->running; n++) {
        int status;

        if (run->pid[n] > 0 && waitpid(run->pid[n], &status, flags) > 0)
            stress_ended(run, n, status);
    }
}

/* ---- --kill -------------------------------------------------------------- */

static uint64_t stress_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(0x2545F4914F6CDD1D);
}

/* Exponentially distributed gaps (a Poisson process): kills fall at random
 * moments, never in step with the writers' own rhythm. */
static uint64_t stress_kill_gap(struct stress_run *run)
{
    double u = ((double)(stress_rand(&run->rng) >> 11) + 0.5) / 0x1p53;

    return (uint64_t)(-log(u) / run->cfg->kill_rate * 1e9);
}

/* SIGKILLs a random writer and starts a new one in its place. */
static int stress_kill_one(struct stress_run *run)
{
    unsigned n = (unsigned)(stress_rand(&run->rng) % run->cfg->writers);
    pid_t p = run->pid[n];
    int status;

    if (p <= 0)
        return 0; /* it finished its -n count */
    kill(p, SIGKILL);
    while (waitpid(p, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
        stress_ended(run, n, status); /* it ended by itself first */
        return 0;
    }
    run->pid[n] = 0;
    run->running--;
    run->kills++;
    if (stress_spawn(run, n) < 0)
        return -1;
    run->restarts++;
    return 0;
}

/* The run is over: wait until every writer started by --kill has committed
 * at least once, so the region's last record comes from a writer that
 * recorded it (a killed writer's last commit may be unrecorded). */
static void stress_kill_settle(struct stress_run *run)
{
    double wait_s = 3.0 / (run->cfg->rate > 0 ? run->cfg->rate : 1e9);
    uint64_t end = stress_now() + (uint64_t)((wait_s > 5 ? wait_s : 5) * 1e9);

    for (unsigned n = 0; n < run->cfg->writers; n++) {
        while (run->pid[n] > 0 && stress_get(&run->sh->slot[n].writes) <= run->spawn_writes[n]
               && atomic_load_explicit(&run->sh->slot[n].done, memory_order_acquire) == 0) {
            if (stress_now() >= end || run->failed) {
                fprintf(stderr, "halstress: writer %u made no commit after its restart\n", n + 1);
                run->failed = true;
                return;
            }
            stress_sleep_ns(1000000);
            stress_reap(run, WNOHANG);
        }
    }
}

static bool stress_writers_done(const struct stress_run *run)
{
    for (unsigned n = 0; n < run->cfg->writers; n++)
        if (atomic_load_explicit(&run->sh->slot[n].done, memory_order_acquire) == 0)
            return false;
    return true;
}

static void stress_print_interval(struct stress_run *run, const struct stress_totals *now,
                                  const struct stress_totals *prev, double secs)
{
    uint64_t hist[STRESS_BUCKETS]; /* this interval's commits only */
    struct hmk_stats st;

    for (unsigned b = 0; b < STRESS_BUCKETS; b++)
        hist[b] = now->hist[b] - prev->hist[b];
    hmk_stats(run->r, &st);
    printf("%8.1fs  writes/s %9.0f  reads/s %9.0f  torn %llu  backwards %llu  retries %llu  "
           "misses %llu  recoveries %llu  kills %llu  commit us p50 %.2f p99 %.2f max %.1f\n",
           (double)(stress_now() - run->t0) / 1e9,
           (double)(now->writes - prev->writes) / secs,
           (double)(now->reads_out + now->reads_in - prev->reads_out - prev->reads_in) / secs,
           (unsigned long long)(now->torn_out + now->torn_in),
           (unsigned long long)now->backwards,
           (unsigned long long)(st.torn_retries - run->st0.torn_retries),
           (unsigned long long)(st.latch_misses - run->st0.latch_misses),
           (unsigned long long)(st.writer_recoveries - run->st0.writer_recoveries),
           (unsigned long long)run->kills, stress_percentile_us(hist, 0.50), stress_percentile_us(hist, 0.99),
           (double)now->lat_max_ns / 1000.0);
    fflush(stdout);
}

static bool stress_should_stop(const struct stress_run *run, uint64_t end)
{
    if (stress_interrupted || atomic_load_explicit(&run->sh->stop, memory_order_relaxed))
        return true;
    if (end && stress_now() >= end)
        return true;
    return run->cfg->count && stress_writers_done(run);
}

/* Waits for the end of the run, printing a line every interval. */
static void stress_supervise(struct stress_run *run, struct stress_totals *now,
                             struct stress_totals *prev)
{
    const struct stress_cfg *cfg = run->cfg;
    uint64_t end = cfg->duration > 0 ? run->t0 + (uint64_t)(cfg->duration * 1e9) : 0;
    uint64_t step = cfg->interval > 0 ? (uint64_t)(cfg->interval * 1e9) : 0;
    uint64_t next = run->t0 + step, last = run->t0;

    memset(prev, 0, sizeof(*prev));
    if (cfg->kill_rate > 0)
        run->next_kill = run->t0 + stress_kill_gap(run);
    while (!stress_should_stop(run, end)) {
        uint64_t t = stress_now(), nap = 20000000; /* notice -n completion and failures soon */

        if (cfg->kill_rate > 0)
            nap = run->next_kill <= t ? 0 : run->next_kill - t < nap ? run->next_kill - t : nap;
        stress_sleep_ns(nap);
        stress_reap(run, WNOHANG);
        if (cfg->kill_rate > 0 && stress_now() >= run->next_kill && !run->failed) {
            if (stress_kill_one(run) < 0) {
                run->failed = true;
                break;
            }
            run->next_kill = stress_now() + stress_kill_gap(run);
        }
        if (step && t >= next) {
            stress_sum(run, now);
            stress_print_interval(run, now, prev, (double)(t - last) / 1e9);
            *prev = *now;
            last = t;
            next += step;
        }
    }
}

static bool stress_writers_wrote(const struct stress_run *run)
{
    for (unsigned n = 0; n < run->cfg->writers; n++)
        if (stress_get(&run->sh->slot[n].writes))
            return true;
    return false;
}

/* After the writers stopped: the region must hold the last record of some
 * writer, and with --loopback HAL must show it too. Returns updates lost. */
static uint64_t stress_check_final(struct stress_run *run)
{
    const struct stress_cfg *cfg = run->cfg;
    hmk_value *tmp = calloc(cfg->k, sizeof(*tmp));
    double *v = calloc(cfg->k, sizeof(*v));
    uint64_t tag = 0, last, lost = 0;
    unsigned bad, w;
    int ret;

    /* the region's out values are what the bridge applied: let it apply the
     * writers' last commits first (two cycles), or the check would compare
     * a record the bridge had not yet replaced */
    hmk_sync(run->r, STRESS_SETTLE_MS);
    ret = tmp && v ? hmk_read_outs(run->r, cfg->pin, cfg->k, tmp) : -ENOMEM;

    for (unsigned j = 0; ret >= 0 && j < cfg->k; j++)
        v[j] = tmp[j].f;
    free(tmp);
    if (ret >= 0 && stress_check(v, cfg->k, &tag, &bad) < 0) {
        fprintf(stderr, "halstress: final out values are not one record\n");
        lost = 1;
    }
    free(v);
    if (ret < 0) {
        fprintf(stderr, "halstress: final check: region '%s': %s\n", hmk_region_name(run->r),
                hmk_strerror(ret));
        run->failed = true;
        return 0;
    }
    if (lost)
        return lost;
    w = stress_tag_writer(tag);
    last = w >= 1 && w <= cfg->writers ? stress_get(&run->sh->slot[w - 1].last_tag) : 0;
    if (w == 0 ? stress_writers_wrote(run) : tag != last) {
        fprintf(stderr, "halstress: lost update: the region holds writer %u seq %llu, not that "
                "writer's last commit\n", w, (unsigned long long)stress_tag_seq(tag));
        return 1;
    }
    if (cfg->loopback && stress_await(run, tag, true) < 0) {
        fprintf(stderr, "halstress: lost update: HAL's in pins never showed the last record "
                "(writer %u seq %llu)\n", w, (unsigned long long)stress_tag_seq(tag));
        return 1;
    }
    return 0;
}

static void stress_print_summary(const struct stress_run *run, const struct stress_totals *t,
                                 double secs, bool pass)
{
    const struct stress_cfg *cfg = run->cfg;
    struct hmk_stats st;

    hmk_stats(run->r, &st);
    printf("summary: %u writers, %u readers, %u pins%s, %.3f s\n", cfg->writers, cfg->readers,
           cfg->k, cfg->loopback ? " (loopback)" : "", secs);
    printf("  writes             %llu\n", (unsigned long long)t->writes);
    printf("  writes_per_s       %.0f\n", (double)t->writes / secs);
    printf("  reads_out          %llu\n", (unsigned long long)t->reads_out);
    printf("  reads_in           %llu\n", (unsigned long long)t->reads_in);
    printf("  reads_per_s        %.0f\n", (double)(t->reads_out + t->reads_in) / secs);
    printf("  torn_out           %llu\n", (unsigned long long)t->torn_out);
    printf("  torn_in            %llu\n", (unsigned long long)t->torn_in);
    printf("  torn               %llu\n", (unsigned long long)(t->torn_out + t->torn_in));
    printf("  backwards          %llu\n", (unsigned long long)t->backwards);
    printf("  lost               %llu\n", (unsigned long long)t->lost);
    printf("  bridge_retries     %llu\n", (unsigned long long)(st.torn_retries - run->st0.torn_retries));
    printf("  bridge_misses      %llu\n", (unsigned long long)(st.latch_misses - run->st0.latch_misses));
    printf("  writer_recoveries  %llu\n",
           (unsigned long long)(st.writer_recoveries - run->st0.writer_recoveries));
    printf("  kills              %llu\n", (unsigned long long)run->kills);
    printf("  writer_restarts    %llu\n", (unsigned long long)run->restarts);
    printf("  bridge_cycles      %llu\n", (unsigned long long)(st.cycles - run->st0.cycles));
    printf("  commit_p50_us      %.2f\n", stress_percentile_us(t->hist, 0.50));
    printf("  commit_p99_us      %.2f\n", stress_percentile_us(t->hist, 0.99));
    printf("  commit_max_us      %.1f\n", (double)t->lat_max_ns / 1000.0);
    printf("result: %s\n", pass ? "PASS" : "FAIL");
    fflush(stdout);
}

static int stress_setup(struct stress_run *run)
{
    int ret = hmk_open(run->cfg->region, 0, &run->r);

    if (ret < 0) {
        const char *name = run->cfg->region ? run->cfg->region : getenv("HAL_MICROKERNEL_REGION");
        fprintf(stderr, "halstress: region '%s': %s\n", name && *name ? name : "hal-microkernel",
                hmk_strerror(ret));
        return ret;
    }
    ret = stress_pins(run->r, run->cfg);
    if (ret < 0)
        return ret;
    run->children = stress_nchildren(run->cfg);
    run->sh_size = sizeof(*run->sh) + run->children * sizeof(run->sh->slot[0]);
    run->sh = mmap(NULL, run->sh_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    run->pid = calloc(run->children, sizeof(*run->pid));
    run->spawn_writes = calloc(run->cfg->writers, sizeof(*run->spawn_writes));
    run->rng = (stress_now() ^ (uint64_t)getpid() << 32) | 1;
    if (run->sh == MAP_FAILED || !run->pid || !run->spawn_writes) {
        fprintf(stderr, "halstress: out of memory for %u children\n", run->children);
        return -ENOMEM;
    }
    ret = stress_start_record(run);
    if (ret < 0)
        return ret;
    return hmk_stats(run->r, &run->st0);
}

static void stress_teardown(struct stress_run *run)
{
    if (run->running) {
        atomic_store_explicit(&run->sh->stop, 1, memory_order_relaxed);
        stress_reap(run, 0);
    }
    if (run->sh && run->sh != MAP_FAILED)
        munmap(run->sh, run->sh_size);
    free(run->pid);
    free(run->spawn_writes);
    hmk_close(run->r);
}

/* Runs the children to the end and judges the run: 0 pass, 1 fail. */
static int stress_run_all(struct stress_run *run)
{
    static struct stress_totals now, prev;
    uint64_t t_end;
    bool pass;

    run->t0 = stress_now();
    if (stress_fork(run) < 0) {
        run->failed = true;
        return 1;
    }
    stress_supervise(run, &now, &prev);
    if (run->cfg->kill_rate > 0 && !run->failed && !stress_interrupted)
        stress_kill_settle(run);
    t_end = stress_now();
    atomic_store_explicit(&run->sh->stop, 1, memory_order_relaxed);
    stress_reap(run, 0);
    stress_sum(run, &now);
    if (!run->failed)
        now.lost = stress_check_final(run);
    pass = !run->failed && now.torn_out + now.torn_in + now.backwards + now.lost == 0;
    stress_print_summary(run, &now, (double)(t_end - run->t0) / 1e9, pass);
    return pass ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct sigaction sa = { .sa_handler = stress_on_signal };
    struct stress_run run = { .sh = MAP_FAILED };
    int rc;

    run.cfg = calloc(1, sizeof(*run.cfg));
    if (!run.cfg) {
        fprintf(stderr, "halstress: out of memory\n");
        return 1;
    }
    rc = stress_parse(run.cfg, argc, argv);
    if (rc >= 0) {
        free(run.cfg);
        return rc;
    }
    /* no SA_RESTART: Ctrl-C ends the supervisor's sleep at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = stress_setup(&run) < 0 ? 1 : stress_run_all(&run);
    stress_teardown(&run);
    free(run.cfg);
    return rc;
}
