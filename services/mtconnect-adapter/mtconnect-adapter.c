/*
 * mtconnect-adapter - HAL pins as MTConnect data items, over SHDR on TCP
 * (the protocol an MTConnect agent such as cppagent connects to).
 * See mtconnect-adapter(1).
 *
 * One thread, one event loop (mtc_net.c, see adapter.h): the hal_*
 * functions below follow HAL (region attach, change stream, availability)
 * when the loop finds their descriptor readable; the loop serves agents.
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
#include <sys/inotify.h>
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
    hmk_stream *st;                 /* the change stream, while attached */
    int change_fd;                  /* hmk_change_fd(r), while attached */
    int shm_watch;                  /* inotify on /dev/shm while waiting for it, or -1 */
    unsigned fd_gen;                /* +1 whenever hal_watch_fd's descriptor changes */
    uint64_t lost, reported;        /* stream records missed, and logged */
    char err[512];                  /* why hal_ready/hal_tick failed */
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

/* Publish the items in want[] (already set in h->val by the caller), with
 * availability if it changed. */
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
}

/* Set item i from HAL value v; true if it changed. */
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

        for (; k < n && ev[k].cycle == cycle; k++)
            for (unsigned i = 0; i < a->c->nitems; i++)
                if (a->pin[i] == (int)ev[k].pin && hal_set(a, i, &ev[k].value))
                    any = want[i] = true;
        hal_set_avail(a, &av);
        if (any || av)
            hal_publish(a, stamp_utc_ms(a, ev[k - 1].time_ns), want, av);
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

/* How often to look at the heartbeat while nothing changes (-1: never). */
int hal_timeout_ms(const struct hal *a)
{
    struct hmk_stats st;

    if (!a->r || !a->c->avail_needs_daemon)
        return -1;
    if (hmk_stats(a->r, &st) < 0 || st.heartbeat_timeout_ms < 200)
        return 100;
    return st.heartbeat_timeout_ms / 2 < 1000 ? (int)st.heartbeat_timeout_ms / 2 : 1000;
}

const char *hal_error(const struct hal *a)
{
    return a->err;
}

int hal_watch_fd(const struct hal *a, unsigned *gen)
{
    *gen = a->fd_gen;
    return a->r ? a->change_fd : a->shm_watch;
}

/* Leaves the region: everything UNAVAILABLE. */
static void hal_detach(struct hal *a)
{
    hmk_stream_close(a->st);
    a->st = NULL;
    hmk_close(a->r); /* also closes change_fd (and so takes it off the epoll set) */
    a->r = NULL;
    a->change_fd = -1;
    a->fd_gen++;
    mtc_log("region detached: everything UNAVAILABLE until HAL is back");
    hal_gone(a);
}

/* Follows the region just opened: pins, stream, change fd, current values.
 * -ESTALE: it went away meanwhile (wait again); other errors are fatal. */
static int hal_follow(struct hal *a)
{
    int ret = hal_resolve(a, a->err, sizeof(a->err));

    /* subscribe before reading current values: nothing falls between */
    if (ret == 0 && (ret = hmk_stream_open(a->r, &a->st)) < 0 && ret != -ESTALE)
        snprintf(a->err, sizeof(a->err), "change stream of region '%s': %s",
                 hmk_region_name(a->r), hmk_strerror(ret));
    if (ret == 0 && (ret = hmk_change_fd(a->r)) < 0 && ret != -ESTALE)
        snprintf(a->err, sizeof(a->err), "change notification: %s", hmk_strerror(ret));
    if (ret < 0) {
        hmk_stream_close(a->st);
        a->st = NULL;
        hmk_close(a->r);
        a->r = NULL;
        return ret;
    }
    a->change_fd = ret;
    a->fd_gen++;
    a->lost = a->reported = 0;
    hal_full(a);
    mtc_log("attached to region '%s'", hmk_region_name(a->r));
    return 0;
}

/* Not attached: try to open the region; if it is not there yet, wait for
 * /dev/shm to change (watch first, then try: none is missed). */
static int hal_attach(struct hal *a)
{
    const char *region = a->c->region[0] ? a->c->region : NULL;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int ret;

    if (a->shm_watch < 0) {
        a->shm_watch = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (a->shm_watch < 0 ||
            inotify_add_watch(a->shm_watch, "/dev/shm", IN_CREATE | IN_MOVED_TO) < 0) {
            snprintf(a->err, sizeof(a->err), "inotify on /dev/shm: %s", strerror(errno));
            return -errno;
        }
        a->fd_gen++;
    }
    while (read(a->shm_watch, buf, sizeof(buf)) > 0)
        ; /* drain: any event means "look again" */
    ret = hmk_open(region, HMK_OPEN_RDONLY, &a->r);
    /* -ESTALE: the old region is being replaced; its rename is an event too */
    if (ret == -ENOENT || ret == -ESTALE || ret == -EAGAIN)
        return 0;
    if (ret == 0)
        ret = hal_follow(a);
    if (ret == -ESTALE)
        return 0;
    if (ret < 0) {
        if (!a->err[0])
            snprintf(a->err, sizeof(a->err), "region '%s': %s", region ? region : "(default)",
                     hmk_strerror(ret));
        return ret;
    }
    close(a->shm_watch);
    a->shm_watch = -1;
    return 0;
}

/* The change fd was readable: ack it, then take everything there is (a
 * change after the ack makes it readable again: none falls between). */
static int hal_changes(struct hal *a)
{
    struct hmk_event ev[256];
    int ret = hmk_change_fd_ack(a->r), n;

    if (ret == 0) {
        do {
            n = hmk_stream_read(a->st, ev, 256, 0, &a->lost);
            if (n > 0)
                hal_events(a, ev, n);
        } while (n == 256);
        ret = n == -ETIMEDOUT || n >= 0 ? 0 : n;
    }
    if (ret == -ESTALE || ret == -EBADMSG || hmk_check(a->r) < 0) {
        hal_detach(a);
        return hal_attach(a);
    }
    if (ret < 0) {
        snprintf(a->err, sizeof(a->err), "change stream: %s", hmk_strerror(ret));
        return ret;
    }
    if (a->lost != a->reported) {
        mtc_log("fell %llu changes behind the change stream; current values resent",
                (unsigned long long)(a->lost - a->reported));
        a->reported = a->lost;
        hal_full(a);
    }
    return 0;
}

int hal_ready(struct hal *a)
{
    return a->r ? hal_changes(a) : hal_attach(a);
}

/* Nothing changed for hal_timeout_ms: the daemon's heartbeat may have. */
int hal_tick(struct hal *a)
{
    bool av;

    if (!a->r)
        return 0;
    if (hmk_check(a->r) < 0)
        return hal_changes(a); /* finds it stale, and detaches */
    hal_set_avail(a, &av);
    if (av)
        hal_publish(a, mtc_utc_ms() > a->last_ms ? mtc_utc_ms() : a->last_ms,
                    (bool[MTC_MAX_ITEMS]){ false }, true);
    return 0;
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

static int serve(const struct mtc_config *c, struct hub *h, const sigset_t *waitmask)
{
    struct hal a = { .c = c, .h = h, .change_fd = -1, .shm_watch = -1 };
    char err[512] = "", bound[96];
    int ret, lfd = -1;

    ret = net_listen(c, &lfd, bound, sizeof(bound), err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "mtconnect-adapter: %s\n", err);
        return ret;
    }
    for (unsigned i = 0; i < c->nitems; i++)
        a.num[i] = NAN;
    hal_gone(&a); /* nothing known until the first attach */
    h->pending.len = 0;
    mtc_log("listening on %s (%u data items)", bound, c->nitems);
    ret = hmk_ready();
    if (ret < 0)
        snprintf(err, sizeof(err), "cannot report readiness: %s", strerror(-ret));
    else if ((ret = hal_attach(&a)) < 0)
        snprintf(err, sizeof(err), "%s", a.err);
    else if ((ret = net_run(h, lfd, &a, &got_signal, waitmask)) < 0)
        snprintf(err, sizeof(err), "%s", a.err[0] ? a.err : strerror(-ret));
    hmk_stream_close(a.st);
    hmk_close(a.r);
    if (a.shm_watch >= 0)
        close(a.shm_watch);
    close(lfd);
    if (ret < 0)
        fprintf(stderr, "mtconnect-adapter: %s\n", err);
    return ret;
}

int main(int argc, char **argv)
{
    static struct mtc_config c; /* large: not on the stack */
    struct hub h = { .c = &c };
    struct sigaction sa = { .sa_handler = on_signal };
    sigset_t term, waitmask;
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
    /* SIGTERM and SIGINT only inside epoll_pwait (no SA_RESTART: it returns) */
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGINT);
    sigprocmask(SIG_BLOCK, &term, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    h.val = calloc(MTC_MAX_ITEMS, sizeof(*h.val));
    if (!h.val) {
        fprintf(stderr, "mtconnect-adapter: %s\n", strerror(ENOMEM));
        return 1;
    }
    ret = serve(&c, &h, &waitmask);
    if (ret == 0)
        mtc_log("stopped");
    mtc_buf_free(&h.pending);
    free(h.val);
    return ret < 0 ? 1 : 0;
}
