/*
 * web_watch.c - the watcher thread: attaches to the region (and again
 * after LinuxCNC restarts), follows libhalmk's change stream into the pin
 * table, judges whether HAL is connected and asks the daemon for its
 * services. It never waits for a browser: it only takes the table's lock
 * for the time of a copy, and broadcasts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "halmk_service.h"
#include "halmk_tool.h"
#include "hmk_ctl.h"
#include "web_state.h"

#define WATCH_TICK_MS 200   /* how often liveness is judged again */
#define SVC_EVERY_MS 1000   /* how often the daemon is asked for services */
#define CTL_TIMEOUT_MS 300  /* the most one question to it may take */
#define WATCH_BATCH 256

static uint64_t now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int web_state_init(struct web_state *s)
{
    pthread_condattr_t ca;

    s->pin = calloc(1024, sizeof(*s->pin));
    if (!s->pin)
        return -ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    s->layout = 1;
    return 0;
}

void web_state_destroy(struct web_state *s)
{
    hmk_close(s->r);
    s->r = NULL;
    free(s->pin);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
}

void web_state_stop(struct web_state *s)
{
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static bool value_eq(const hmk_value *a, const hmk_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case HMK_TYPE_BIT: return a->b == b->b;
    case HMK_TYPE_FLOAT: return memcmp(&a->f, &b->f, sizeof(a->f)) == 0;
    case HMK_TYPE_S32: return a->s == b->s;
    case HMK_TYPE_U32: return a->u == b->u;
    }
    return false;
}

/* Caller holds lock. */
static void pin_set(struct web_state *s, unsigned i, const hmk_value *v, uint64_t cycle,
                    bool out, double bridge_ms)
{
    struct web_pin *p = &s->pin[i];

    if (value_eq(out ? &p->out : &p->val, v))
        return;
    if (out)
        p->out = *v;
    else
        p->val = *v;
    p->cycle = cycle;
    p->wall_ms = (int64_t)(now_ns(CLOCK_REALTIME) / 1000000u);
    p->bridge_ms = bridge_ms;
    p->ver = ++s->ver;
}

/* The bridge stamps each cycle with CLOCK_MONOTONIC; the stream gives each
 * change its cycle. A change's time is the stamp of its cycle: the latest
 * stamp, moved by the cycles between at the measured period (the watcher
 * reads the stream within a cycle or two, so that part is small; a change
 * of the cycle the bridge is still finishing is one ahead of the stamp, and
 * is never put later than now). In wall-clock ms, the clock a browser on
 * this machine has: the page measures its own latency from it. 0 when the
 * bridge has not stamped yet. */
static double bridge_ms(struct web_state *s, const struct hmk_stats *hs, uint64_t cycle)
{
    uint64_t mono = now_ns(CLOCK_MONOTONIC), real = now_ns(CLOCK_REALTIME);
    uint64_t period = s->period_ns ? s->period_ns : 1000000u, t;

    if (hs->bridge_time_ns == 0)
        return 0;
    if (cycle >= hs->cycle) {
        t = hs->bridge_time_ns + (cycle - hs->cycle) * period;
        if (t > mono)
            t = mono;
    } else {
        if ((hs->cycle - cycle) * period >= hs->bridge_time_ns)
            return 0;
        t = hs->bridge_time_ns - (hs->cycle - cycle) * period;
    }
    return ((double)t + (double)real - (double)mono) / 1e6;
}

/* The period from two stamps far enough apart to average the jitter. */
static void bridge_period(struct web_state *s, const struct hmk_stats *hs)
{
    if (hs->cycle < s->clk_cycle || hs->bridge_time_ns < s->clk_ns || s->clk_cycle == 0) {
        s->clk_cycle = hs->cycle;
        s->clk_ns = hs->bridge_time_ns;
    } else if (hs->cycle - s->clk_cycle >= 100) {
        s->period_ns = (hs->bridge_time_ns - s->clk_ns) / (hs->cycle - s->clk_cycle);
        s->clk_cycle = hs->cycle;
        s->clk_ns = hs->bridge_time_ns;
    }
}

/* Reads the pin table and every value, then publishes it as a new layout
 * (clients send a fresh snapshot). */
static int watch_attach(struct web_state *s, hmk_region *r)
{
    unsigned n = hmk_pin_count(r);
    struct hmk_pin_info info;
    struct hmk_stats st;
    hmk_value v;

    if (n > 1024 || hmk_stats(r, &st) < 0)
        return -EBADMSG;
    pthread_mutex_lock(&s->lock);
    s->r = r;
    s->npins = n;
    for (unsigned i = 0; i < n; i++) {
        struct web_pin *p = &s->pin[i];
        memset(p, 0, sizeof(*p));
        if (hmk_pin_info(r, i, &info) == 0) {
            snprintf(p->name, sizeof(p->name), "%s", info.name);
            p->type = info.type;
            p->dir = info.dir;
            p->has_out = info.dir != HMK_DIR_IN;
            p->granted = hmk_write_granted(r, i) == 1;
        }
        p->val.type = p->out.type = p->type;
        if (hmk_read(r, i, &v) == 0)
            p->val = v;
        if (p->has_out && hmk_read_out(r, i, &v) == 0)
            p->out = v;
        p->cycle = st.cycle;
        p->ver = ++s->ver;
    }
    s->layout++;
    s->st.attached = true;
    s->st.generation = st.generation;
    s->status_ver++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static void watch_detach(struct web_state *s, hmk_stream **stream)
{
    hmk_stream_close(*stream);
    *stream = NULL;
    pthread_mutex_lock(&s->lock);
    hmk_close(s->r);
    s->r = NULL;
    s->npins = 0;
    s->layout++;
    s->st.attached = false;
    s->status_ver++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    fprintf(stderr, "web: region detached; waiting for it to come back\n");
}

/* Every in value against the table (after a wake without the stream, and
 * to resynchronise after the stream lost records). */
static int watch_snapshot(struct web_state *s, hmk_value *vals)
{
    uint64_t cycle;
    int ret = hmk_snapshot(s->r, vals, s->npins, &cycle);

    if (ret < 0)
        return ret;
    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < s->npins; i++)
        pin_set(s, i, &vals[i], cycle, false, 0);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* Values written towards HAL: read as one consistent set. */
static int watch_outs(struct web_state *s, unsigned *idx, hmk_value *vals)
{
    unsigned n = 0;
    int ret;

    for (unsigned i = 0; i < s->npins; i++)
        if (s->pin[i].has_out)
            idx[n++] = i;
    if (n == 0)
        return 0;
    ret = hmk_read_outs(s->r, idx, n, vals);
    if (ret < 0)
        return ret == -EAGAIN ? 0 : ret;
    pthread_mutex_lock(&s->lock);
    for (unsigned k = 0; k < n; k++)
        pin_set(s, idx[k], &vals[k], hmk_cycle(s->r), true, 0);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int watch_stream(struct web_state *s, hmk_stream *st, hmk_value *vals)
{
    struct hmk_event ev[WATCH_BATCH];
    struct hmk_stats hs = { 0 };
    uint64_t lost = 0;
    int n = hmk_stream_read(st, ev, WATCH_BATCH, WATCH_TICK_MS, &lost);

    if (n < 0)
        return n == -ETIMEDOUT || n == -EINTR ? 0 : n;
    if (hmk_stats(s->r, &hs) == 0)
        bridge_period(s, &hs);
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < n; i++)
        if (ev[i].pin < s->npins)
            pin_set(s, ev[i].pin, &ev[i].value, ev[i].cycle, false,
                    bridge_ms(s, &hs, ev[i].cycle));
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    /* browsers want the latest values, not the missed history: resync */
    if (lost) {
        fprintf(stderr, "web: fell %llu changes behind the change stream; resynchronised\n",
                (unsigned long long)lost);
        return watch_snapshot(s, vals);
    }
    return 0;
}

/* Asks the daemon `status`, then `stats`, over its control socket; fills
 * svc[] and returns how many, or -errno (no daemon: the page says so).
 * Bounded by the socket timeouts, so a wedged daemon cannot hold the
 * watcher; stats that do not come leave the services without numbers. */
static int ctl_status(const char *path, struct web_svc *svc, unsigned max)
{
    struct hmk_ctl_stats *st = NULL;
    char *reply = NULL, *line, *save = NULL;
    size_t nst = 0;
    int count = 0, ret;

    ret = hmk_ctl_ask(path, "status", CTL_TIMEOUT_MS, &reply);
    for (line = ret == 0 ? strtok_r(reply, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
        if ((unsigned)count < max && web_parse_service(line, &svc[count]) == 0)
            count++;
    free(reply);
    if (ret < 0)
        return ret;
    if (hmk_ctl_get_stats(path, CTL_TIMEOUT_MS, &st, &nst) == 0)
        for (size_t i = 0; i < nst; i++)
            for (int k = 0; k < count; k++)
                if (!strcmp(svc[k].name, st[i].name)) {
                    svc[k].has_stats = true;
                    svc[k].stats = st[i];
                }
    free(st);
    return count;
}

/* Liveness and the daemon's services, published when they change. */
static void watch_status(struct web_state *s, uint64_t *svc_due)
{
    static struct web_svc svc[WEB_MAX_SVCS];
    struct web_status st;
    struct hmk_stats hs = { 0 };
    uint64_t now = now_ns(CLOCK_MONOTONIC);
    int nsvc = -1;

    if (s->r && hmk_stats(s->r, &hs) < 0)
        memset(&hs, 0, sizeof(hs));
    else if (s->r)
        bridge_period(s, &hs);
    if (s->ctl_socket && now >= *svc_due) {
        nsvc = ctl_status(s->ctl_socket, svc, WEB_MAX_SVCS);
        *svc_due = now + SVC_EVERY_MS * 1000000ull;
    }
    pthread_mutex_lock(&s->lock);
    st = s->st;
    st.connected = web_hal_connected(st.attached, &hs, now);
    /* latched while the daemon, once connected, is lost; cleared when it
     * is back (the bridge's own latch also waits for fault-reset) */
    if (s->st.connected && !st.connected)
        st.fault = true;
    else if (st.connected)
        st.fault = false;
    st.cycle = hs.cycle;
    st.bridge_ns = hs.bridge_time_ns;
    if (nsvc >= 0) {
        st.svc_known = true;
        st.nsvc = (unsigned)nsvc;
        memcpy(st.svc, svc, (size_t)nsvc * sizeof(svc[0]));
    } else if (nsvc != -1 || !s->ctl_socket) {
        st.svc_known = false;
        st.nsvc = 0;
    }
    if (memcmp(&st, &s->st, sizeof(st)) != 0) {
        bool cycle_only = st.connected == s->st.connected && st.fault == s->st.fault &&
                          st.nsvc == s->st.nsvc && st.svc_known == s->st.svc_known &&
                          !memcmp(st.svc, s->st.svc, sizeof(st.svc));
        s->st = st;
        /* the cycle alone moves every servo period: not worth a frame */
        if (!cycle_only) {
            s->status_ver++;
            pthread_cond_broadcast(&s->cond);
        }
    }
    pthread_mutex_unlock(&s->lock);
}

static int watch_open(struct web_state *s, hmk_stream **stream, uint32_t *seq)
{
    hmk_region *r;
    int ret = hmk_open_wait(s->region_name, s->open_flags, WATCH_TICK_MS, &r);

    /* a region we may not write is still worth watching */
    if (ret == -EACCES && !(s->open_flags & HMK_OPEN_RDONLY))
        ret = hmk_open_wait(s->region_name, HMK_OPEN_RDONLY, WATCH_TICK_MS, &r);
    if (ret < 0)
        return ret;
    ret = watch_attach(s, r);
    if (ret < 0) {
        pthread_mutex_lock(&s->lock);
        s->r = NULL;
        pthread_mutex_unlock(&s->lock);
        hmk_close(r);
        return ret;
    }
    *seq = hmk_change_seq(r);
    ret = hmk_stream_open(r, stream);
    s->streaming = ret == 0;
    fprintf(stderr, "web: attached to region '%s' (%u pins, %s)\n", hmk_region_name(r),
            s->npins, ret == 0 ? "change stream" : "snapshots: no change stream");
    return 0;
}

/* One wait for changes: the stream if there is one, else the change
 * futex and a snapshot diff. Both wake at least every WATCH_TICK_MS. */
static int watch_once(struct web_state *s, hmk_stream *stream, uint32_t *seq, hmk_value *vals,
                      unsigned *idx, uint32_t *out_seq)
{
    int ret;

    if (stream) {
        ret = watch_stream(s, stream, vals);
    } else {
        ret = hmk_wait_change(s->r, seq, WATCH_TICK_MS);
        if (ret == 0)
            ret = watch_snapshot(s, vals);
        else if (ret == -ETIMEDOUT || ret == -EINTR)
            ret = 0;
    }
    if (ret == 0 && hmk_change_seq(s->r) != *out_seq) {
        *out_seq = hmk_change_seq(s->r);
        ret = watch_outs(s, idx, vals);
    }
    if (ret == 0)
        ret = hmk_check(s->r);
    return ret;
}

void *web_watch_main(void *arg)
{
    struct web_state *s = arg;
    static hmk_value vals[1024];
    static unsigned idx[1024];
    hmk_stream *stream = NULL;
    uint32_t seq = 0, out_seq = 0;
    uint64_t svc_due = 0;
    int ret, last_err = 0;

    while (!s->stop) {
        if (!s->r) {
            ret = watch_open(s, &stream, &seq);
            if (ret < 0 && ret != last_err && ret != -ETIMEDOUT)
                fprintf(stderr, "web: region: %s\n", hmk_strerror(ret));
            last_err = ret;
            out_seq = seq - 1;
            if (ret < 0 && ret != -ETIMEDOUT) /* a bad region answers at once */
                nanosleep(&(struct timespec){ .tv_nsec = WATCH_TICK_MS * 1000000L }, NULL);
        } else {
            ret = watch_once(s, stream, &seq, vals, idx, &out_seq);
            if (ret == -ESTALE || ret == -EBADMSG)
                watch_detach(s, &stream);
            else if (ret < 0)
                fprintf(stderr, "web: reading the region: %s\n", hmk_strerror(ret));
        }
        watch_status(s, &svc_due);
    }
    hmk_stream_close(stream);
    return NULL;
}
