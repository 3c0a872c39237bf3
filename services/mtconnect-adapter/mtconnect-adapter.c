/*
 * mtconnect-adapter - HAL pins as MTConnect data items, over SHDR on TCP
 * (the protocol an MTConnect agent such as cppagent connects to).
 * See mtconnect-adapter(1).
 *
 * The main thread follows HAL (the hal_* functions below: region attach, change
 * stream, availability); the network thread (mtc_net.c) serves agents.
 * It only reads HAL: it maps the region read-only.
 */
#include "adapter.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "halmk_service.h"
#include "hmk_version.h"

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    (void)sig;
    got_signal = 1; /* flags only */
}

void mtc_log(const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "mtconnect-adapter: %s\n", line); /* one write per line */
}

uint64_t mtc_utc_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t mtc_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void hub_lock(struct hub *h)
{
    pthread_mutex_lock(&h->lock);
}

void hub_unlock_wake(struct hub *h)
{
    uint64_t one = 1;

    pthread_mutex_unlock(&h->lock);
    if (write(h->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        mtc_log("wake: %s", strerror(errno));
}

int hub_snapshot(struct hub *h, uint64_t utc_ms, struct mtc_buf *out)
{
    bool all[MTC_MAX_ITEMS];
    char ts[32];
    int ret;

    memset(all, 1, sizeof(all));
    mtc_format_time(utc_ms, ts, sizeof(ts));
    ret = mtc_buf_printf(out, "* shdrVersion: 2.0\n* uuid: %s\n", h->c->uuid);
    return ret ? ret : mtc_lines(h->c, ts, h->avail, h->val, all, out);
}

/* ---- HAL side ------------------------------------------------------------ */

struct hal {
    const struct mtc_config *c;
    struct hub *h;
    hmk_region *r;
    int pin[MTC_MAX_ITEMS];         /* region index of each item's pin */
    double num[MTC_MAX_ITEMS];      /* last sample value sent (deadband) */
    bool connected;
    uint64_t last_ms;               /* latest time stamp sent: never go back */
    int64_t off_ns;                 /* CLOCK_REALTIME - CLOCK_MONOTONIC */
    int64_t off_at_ms;              /* when off_ns was measured (monotonic), 0: never */
};

/*
 * The one place that decides whether HAL is "connected": the region is
 * attached and, with availability = daemon, the daemon's heartbeat is
 * fresh. (Issue 11 replaces the heartbeat with a flag the bridge publishes;
 * only this function changes then.)
 */
static bool hal_connected(const struct hal *a)
{
    struct hmk_stats st;
    uint64_t now;

    if (!a->r || hmk_stats(a->r, &st) < 0)
        return false;
    if (!a->c->avail_needs_daemon)
        return true;
    now = mono_ns();
    return st.heartbeat_ns && st.heartbeat_ns <= now &&
           now - st.heartbeat_ns <= (uint64_t)st.heartbeat_timeout_ms * 1000000ull;
}

/* How often the realtime - monotonic offset is measured again while lines
 * are being stamped (never while idle). NTP slews both clocks alike, so the
 * offset moves only when the realtime clock is stepped; a step shows in
 * the stamps within this long. */
#define OFFSET_REFRESH_MS 1000

/* CLOCK_REALTIME - CLOCK_MONOTONIC, read between two monotonic reads and
 * taken at their midpoint: off by at most half the (sub-microsecond) gap. */
static int64_t clock_offset_ns(void)
{
    struct timespec m0, r, m1;
    int64_t mid;

    clock_gettime(CLOCK_MONOTONIC, &m0);
    clock_gettime(CLOCK_REALTIME, &r);
    clock_gettime(CLOCK_MONOTONIC, &m1);
    mid = ((int64_t)m0.tv_sec + (int64_t)m1.tv_sec) * 500000000 +
          ((int64_t)m0.tv_nsec + (int64_t)m1.tv_nsec) / 2;
    return (int64_t)r.tv_sec * 1000000000 + r.tv_nsec - mid;
}

/*
 * UTC milliseconds of a bridge stamp (CLOCK_MONOTONIC ns, hmk_event.time_ns
 * or hmk_stats.bridge_time_ns; 0: none, use now). Never earlier than a
 * stamp already sent: SHDR time goes forward, also across a clock step.
 */
static uint64_t stamp_utc_ms(struct hal *a, uint64_t mono)
{
    int64_t now = mtc_mono_ms(), t;

    if (!a->off_at_ms || now - a->off_at_ms >= OFFSET_REFRESH_MS) {
        a->off_ns = clock_offset_ns();
        a->off_at_ms = now;
    }
    t = mono ? ((int64_t)mono + a->off_ns) / 1000000 : (int64_t)mtc_utc_ms();
    if (t < 0 || (uint64_t)t < a->last_ms)
        t = (int64_t)a->last_ms;
    a->last_ms = (uint64_t)t;
    return (uint64_t)t;
}

/* The latest cycle's stamp, for lines that no event stamps (attach). */
static uint64_t latest_stamp(const struct hal *a)
{
    struct hmk_stats st;

    return hmk_stats(a->r, &st) == 0 ? st.bridge_time_ns : 0;
}

/* Publish the items in want[] (already set in h->val under the lock by
 * the caller), with availability if it changed. */
static void hal_publish(struct hal *a, uint64_t utc_ms, const bool *want, bool avail_changed)
{
    struct hub *h = a->h;
    char ts[32];

    mtc_format_time(utc_ms, ts, sizeof(ts));
    if (mtc_lines(a->c, ts, avail_changed ? h->avail : NULL, h->val, want, &h->pending) < 0 ||
        h->pending.len > HUB_PENDING_MAX) {
        /* the network thread is far behind (or out of memory): give
         * everyone the full state instead of what piled up */
        h->pending.len = 0;
        h->resync = true;
    }
    hub_unlock_wake(h);
}

/* Under the lock: set item i from HAL value v; true if it changed. */
static bool hal_set(struct hal *a, unsigned i, const hmk_value *v)
{
    const struct mtc_item *it = &a->c->item[i];
    char buf[MTC_VAL_MAX];
    double num;

    if (mtc_item_value(it, v, buf, sizeof(buf), &num) < 0 || !strcmp(buf, a->h->val[i]))
        return false;
    if (!isnan(num) && !isnan(a->num[i]) && !mtc_item_passes(it, a->num[i], num))
        return false;
    a->num[i] = num;
    strcpy(a->h->val[i], buf);
    return true;
}

static void hal_set_avail(struct hal *a, bool *changed)
{
    bool c = hal_connected(a);

    *changed = c != a->connected || !strcmp(a->h->avail, "");
    a->connected = c;
    strcpy(a->h->avail, c ? "AVAILABLE" : "UNAVAILABLE");
}

/* Every item from HAL's current values (after attach, after lost events). */
static void hal_full(struct hal *a)
{
    bool want[MTC_MAX_ITEMS] = { false }, av;
    uint64_t t;

    hub_lock(a->h);
    for (unsigned i = 0; i < a->c->nitems; i++) {
        hmk_value v;
        if (hmk_read_in(a->r, (unsigned)a->pin[i], &v) == 0) {
            a->num[i] = NAN; /* a resync is no place for a deadband */
            want[i] = hal_set(a, i, &v);
        }
    }
    hal_set_avail(a, &av);
    t = stamp_utc_ms(a, latest_stamp(a));
    hal_publish(a, t, want, av);
}

/* Everything UNAVAILABLE: HAL went away. */
static void hal_gone(struct hal *a)
{
    bool want[MTC_MAX_ITEMS];

    hub_lock(a->h);
    for (unsigned i = 0; i < a->c->nitems; i++) {
        want[i] = strcmp(a->h->val[i], mtc_item_unavailable(&a->c->item[i])) != 0;
        strcpy(a->h->val[i], mtc_item_unavailable(&a->c->item[i]));
        a->num[i] = NAN;
    }
    a->connected = false;
    strcpy(a->h->avail, "UNAVAILABLE");
    a->last_ms = mtc_utc_ms() > a->last_ms ? mtc_utc_ms() : a->last_ms;
    hal_publish(a, a->last_ms, want, true);
}

/* One line per bridge cycle (events of a cycle are contiguous in the
 * stream), stamped with that cycle's stamp, which its events carry. */
static void hal_events(struct hal *a, const struct hmk_event *ev, int n)
{
    for (int k = 0; k < n;) {
        uint64_t cycle = ev[k].cycle;
        bool want[MTC_MAX_ITEMS] = { false }, any = false, av;

        hub_lock(a->h);
        for (; k < n && ev[k].cycle == cycle; k++)
            for (unsigned i = 0; i < a->c->nitems; i++)
                if (a->pin[i] == (int)ev[k].pin && hal_set(a, i, &ev[k].value))
                    any = want[i] = true;
        hal_set_avail(a, &av);
        if (any || av)
            hal_publish(a, stamp_utc_ms(a, ev[k - 1].time_ns), want, av);
        else
            pthread_mutex_unlock(&a->h->lock);
    }
}

/* Region pins for every item, type-checked. -EINVAL + err: config error. */
static int hal_resolve(struct hal *a, char *err, size_t errlen)
{
    for (unsigned i = 0; i < a->c->nitems; i++) {
        const struct mtc_item *it = &a->c->item[i];
        struct hmk_pin_info info;
        int idx = hmk_pin_find(a->r, it->pin), ret;

        if (idx < 0) {
            snprintf(err, errlen, "%s:%u: [%s] pin '%s': no such pin in region '%s'", a->c->file,
                     it->line, it->key, it->pin, hmk_region_name(a->r));
            return -EINVAL;
        }
        hmk_pin_info(a->r, (unsigned)idx, &info);
        if (info.dir == HMK_DIR_OUT) {
            snprintf(err, errlen, "%s:%u: [%s] pin '%s' is an out pin: HAL feeds it nothing",
                     a->c->file, it->line, it->key, it->pin);
            return -EINVAL;
        }
        ret = mtc_item_check_type(a->c, it, info.type, err, errlen);
        if (ret < 0)
            return ret;
        a->pin[i] = idx;
    }
    return 0;
}

/* How often to look at the heartbeat while nothing changes. */
static int hal_tick_ms(const struct hal *a)
{
    struct hmk_stats st;

    if (!a->c->avail_needs_daemon)
        return 1000; /* only to notice a signal that raced the wait */
    if (hmk_stats(a->r, &st) < 0 || st.heartbeat_timeout_ms < 200)
        return 100;
    return st.heartbeat_timeout_ms / 2 < 1000 ? (int)st.heartbeat_timeout_ms / 2 : 1000;
}

/* One attachment: until the region goes (-ESTALE), a signal, or an error. */
static int hal_follow(struct hal *a, char *err, size_t errlen)
{
    struct hmk_event ev[256];
    hmk_stream *st = NULL;
    uint64_t lost = 0, reported = 0;
    int ret = hal_resolve(a, err, errlen);

    /* subscribe before reading current values: nothing falls between */
    if (ret == 0 && (ret = hmk_stream_open(a->r, &st)) < 0 && ret != -ESTALE)
        snprintf(err, errlen, "change stream of region '%s': %s", hmk_region_name(a->r),
                 hmk_strerror(ret));
    if (ret < 0)
        return ret;
    hal_full(a);
    mtc_log("attached to region '%s'", hmk_region_name(a->r));
    while (!got_signal) {
        int n = hmk_stream_read(st, ev, 256, hal_tick_ms(a), &lost);
        if (n == -ESTALE || n == -EBADMSG || hmk_check(a->r) < 0) {
            ret = -ESTALE;
            break;
        }
        if (n < 0 && n != -ETIMEDOUT && n != -EINTR) {
            snprintf(err, errlen, "change stream: %s", hmk_strerror(n));
            ret = n;
            break;
        }
        if (n > 0)
            hal_events(a, ev, n);
        if (lost != reported) {
            mtc_log("fell %llu changes behind the change stream; current values resent",
                    (unsigned long long)(lost - reported));
            reported = lost;
            hal_full(a);
        } else if (n <= 0) {
            bool av;
            hub_lock(a->h);
            hal_set_avail(a, &av);
            if (av)
                hal_publish(a, mtc_utc_ms() > a->last_ms ? mtc_utc_ms() : a->last_ms,
                            (bool[MTC_MAX_ITEMS]){ false }, true);
            else
                pthread_mutex_unlock(&a->h->lock);
        }
    }
    hmk_stream_close(st);
    return got_signal ? 0 : ret;
}

static int hal_run(struct hal *a, char *err, size_t errlen)
{
    const char *region = a->c->region[0] ? a->c->region : NULL;
    int ret = 0;

    while (!got_signal) {
        ret = hmk_open_wait(region, HMK_OPEN_RDONLY, 1000, &a->r);
        if (ret == -ETIMEDOUT || ret == -EINTR)
            continue;
        if (ret < 0) {
            snprintf(err, errlen, "region '%s': %s", region ? region : "(default)",
                     hmk_strerror(ret));
            return ret;
        }
        ret = hal_follow(a, err, errlen);
        hmk_close(a->r);
        a->r = NULL;
        if (ret != -ESTALE)
            break;
        mtc_log("region detached: everything UNAVAILABLE until HAL is back");
        hal_gone(a);
        ret = 0;
    }
    return ret;
}

/* ---- command line ---------------------------------------------------------- */

struct opts {
    const char *config;
    const char *dump_dir;
    bool check;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: mtconnect-adapter [-n] [--dump-devices DIR] -c MAPPING-FILE\n"
               "  -c, --config FILE      pin -> data item mapping (see mtconnect-adapter(1))\n"
               "  -n, --check            check the mapping (and the pins, if the region is there), exit\n"
               "      --dump-devices DIR write DIR/Devices.xml and DIR/agent.cfg for an agent, exit\n"
               "  -h, --help\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = { { "config", required_argument, NULL, 'c' },
                                        { "check", no_argument, NULL, 'n' },
                                        { "dump-devices", required_argument, NULL, 'd' },
                                        { "help", no_argument, NULL, 'h' },
                                        { "version", no_argument, NULL, 'V' },
                                        { NULL, 0, NULL, 0 } };
    int ch;

    while ((ch = getopt_long(argc, argv, ":c:nhV", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': o->config = optarg; break;
        case 'n': o->check = true; break;
        case 'd': o->dump_dir = optarg; break;
        case 'h': usage(stdout); exit(0);
        case 'V': puts("mtconnect-adapter " HMK_VERSION); exit(0);
        case ':':
            fprintf(stderr, "mtconnect-adapter: option '%s' needs a value\n", argv[optind - 1]);
            return -EINVAL;
        default:
            fprintf(stderr, "mtconnect-adapter: unknown option '%s' (see --help)\n",
                    argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mtconnect-adapter: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    if (!o->config) {
        fprintf(stderr, "mtconnect-adapter: no mapping file: give -c FILE\n");
        return -EINVAL;
    }
    return 0;
}

static int dump_one(const struct mtc_config *c, const char *dir, const char *name,
                    int (*fn)(const struct mtc_config *, FILE *))
{
    char path[4096];
    FILE *f;
    int ret;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "we");
    if (!f) {
        fprintf(stderr, "mtconnect-adapter: %s: %s\n", path, strerror(errno));
        return -errno;
    }
    ret = fn(c, f);
    if (fclose(f) != 0 || ret < 0) {
        fprintf(stderr, "mtconnect-adapter: %s: write error\n", path);
        return -EIO;
    }
    return 0;
}

/* -n, and before starting: the file, the listen address, and the pins if
 * HAL is up now (else they are checked at attach). */
static int check_config(const struct mtc_config *c, bool quiet)
{
    struct hal a = { .c = c };
    char err[512];
    int ret = net_listen(c, NULL, NULL, 0, err, sizeof(err));

    if (ret == 0 && hmk_open(c->region[0] ? c->region : NULL, HMK_OPEN_RDONLY, &a.r) == 0) {
        ret = hal_resolve(&a, err, sizeof(err));
        if (ret == 0 && !quiet)
            printf("%s: OK: %u data items, pins checked against region '%s'\n", c->file,
                   c->nitems, hmk_region_name(a.r));
        hmk_close(a.r);
    } else if (ret == 0 && !quiet) {
        printf("%s: OK: %u data items (region not there: pins not checked)\n", c->file, c->nitems);
    }
    if (ret < 0)
        fprintf(stderr, "mtconnect-adapter: %s\n", err);
    return ret;
}

static int serve(const struct mtc_config *c, struct hub *h)
{
    struct hal a = { .c = c, .h = h };
    struct net_args na = { .hub = h, .listen_fd = -1 };
    char err[512] = "", bound[96];
    pthread_t th;
    int ret;

    ret = net_listen(c, &na.listen_fd, bound, sizeof(bound), err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "mtconnect-adapter: %s\n", err);
        return ret;
    }
    for (unsigned i = 0; i < c->nitems; i++)
        a.num[i] = NAN;
    hal_gone(&a); /* nothing known until the first attach */
    h->pending.len = 0;
    if ((ret = -pthread_create(&th, NULL, net_thread, &na)) < 0) {
        fprintf(stderr, "mtconnect-adapter: thread: %s\n", strerror(-ret));
        close(na.listen_fd);
        return ret;
    }
    mtc_log("listening on %s (%u data items)", bound, c->nitems);
    ret = hmk_ready();
    if (ret < 0)
        snprintf(err, sizeof(err), "cannot report readiness: %s", strerror(-ret));
    else
        ret = hal_run(&a, err, sizeof(err));
    atomic_store(&h->stop, true);
    hub_lock(h);
    hub_unlock_wake(h);
    pthread_join(th, NULL);
    close(na.listen_fd);
    if (ret == 0 && na.ret < 0) {
        ret = na.ret;
        snprintf(err, sizeof(err), "network: %s", strerror(-ret));
    }
    if (ret < 0)
        fprintf(stderr, "mtconnect-adapter: %s\n", err);
    return ret;
}

int main(int argc, char **argv)
{
    static struct mtc_config c; /* large: not on the stack */
    struct hub h = { .lock = PTHREAD_MUTEX_INITIALIZER, .c = &c };
    struct sigaction sa = { .sa_handler = on_signal };
    struct opts o = { 0 };
    char err[512];
    int ret;

    if (parse_args(argc, argv, &o) < 0)
        return 2;
    if (mtc_config_load(&c, o.config, err, sizeof(err)) < 0) {
        fprintf(stderr, "mtconnect-adapter: %s\n", err);
        return 1;
    }
    if (o.dump_dir)
        return dump_one(&c, o.dump_dir, "Devices.xml", mtc_write_devices) < 0 ||
                       dump_one(&c, o.dump_dir, "agent.cfg", mtc_write_agent_cfg) < 0
                   ? 1
                   : 0;
    if (o.check)
        return check_config(&c, false) < 0 ? 1 : 0;
    if (check_config(&c, true) < 0)
        return 1;
    sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: waits must return */
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    h.val = calloc(MTC_MAX_ITEMS, sizeof(*h.val));
    h.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!h.val || h.wake_fd < 0) {
        fprintf(stderr, "mtconnect-adapter: %s\n", strerror(errno ? errno : ENOMEM));
        return 1;
    }
    ret = serve(&c, &h);
    if (ret == 0)
        mtc_log("stopped");
    mtc_buf_free(&h.pending);
    free(h.val);
    close(h.wake_fd);
    return ret < 0 ? 1 : 0;
}
