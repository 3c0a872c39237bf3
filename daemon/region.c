/* region.c - see region.h */
#include "region.h"
#include "alive.h"
#include "fmt.h"
#include "halmk_priv.h"
#include "halmk_service.h"
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define RETRY_FIRST_MS 20u
#define RETRY_MAX 10u /* 20ms doubling, capped at 2 s: about 10 s in all */
#define REGION_PINMON_MIN_MS 20u

/* Owned by the daemon; the thread only reads it, and is always joined
 * (watcher_stop) before it is freed. */
struct region_watcher {
    char name[64];
    int fd;                 /* the thread's own dup of change_fd */
    uint32_t seq;           /* change cursor taken before the baseline scan */
    atomic_bool cancel;
    pthread_t thread;
};

/* Watches /dev/shm for the region to appear. Only while detached: attached,
 * the daemon learns of a detach from the region itself, and a watch would
 * wake it for every object anybody creates in /dev/shm. */
static int watch_shm(struct region *g)
{
    if (g->inotify_fd < 0 || g->inotify_wd >= 0)
        return 0;
    /* IN_CLOSE_WRITE: the bridge closes its fd once the region is set up */
    g->inotify_wd = inotify_add_watch(g->inotify_fd, REGION_SHM_DIR,
                                      IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB);
    return g->inotify_wd < 0 ? -errno : 0;
}

static void unwatch_shm(struct region *g)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

    if (g->inotify_wd >= 0)
        inotify_rm_watch(g->inotify_fd, g->inotify_wd);
    g->inotify_wd = -1;
    while (g->inotify_fd >= 0 && read(g->inotify_fd, buf, sizeof(buf)) > 0)
        ; /* what queued up before the removal */
}

int region_init(struct region *g, const char *name)
{
    memset(g, 0, sizeof(*g));
    g->inotify_fd = g->retry_fd = g->inotify_wd = -1;
    g->change_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (g->change_fd < 0)
        return -errno;
    fmt(g->name, sizeof(g->name), "%s", name);
    g->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (g->retry_fd < 0)
        return -errno;
    g->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (g->inotify_fd < 0)
        return -errno;
    return watch_shm(g);
}

static void pins_free(struct region *g)
{
    free(g->prev_in);
    free(g->prev_out);
    g->prev_in = g->prev_out = NULL;
    g->npins = 0;
    g->have_prev = false;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void pinmon_run(struct region *g, uint64_t now_ms);

static void *watcher_main(void *arg)
{
    struct region_watcher *w = arg;
    struct timespec pause = { 0, (long)REGION_PINMON_MIN_MS * 1000000L };
    hmk_region *r = NULL;
    uint32_t seq;
    uint64_t one = 1;

    /* its own read-only handle: the daemon may close its own at any time */
    if (hmk_open(w->name, HMK_OPEN_RDONLY, &r) < 0)
        return NULL;
    seq = w->seq;
    while (!atomic_load(&w->cancel)) {
        int ret = hmk_wait_change(r, &seq, -1);
        if (ret == -EINTR)
            continue; /* watcher_stop's signal: the loop re-checks cancel */
        if (ret < 0)
            break; /* -ESTALE: the daemon re-attaches and starts a new watcher */
        if (write(w->fd, &one, sizeof(one)) < 0) {
            /* the counter saturates only if the loop never reads: fine */
        }
        /* coalesce: a pin that changes every servo cycle is scanned at
         * most 1000 / REGION_PINMON_MIN_MS times a second */
        nanosleep(&pause, NULL);
    }
    hmk_close(r);
    return NULL;
}

static void watcher_wake(int sig)
{
    (void)sig; /* only there to make blocking calls return EINTR */
}

/* Stops and joins the watcher. A signal interrupts its futex wait; the
 * signal can land just before the thread blocks, so it is repeated until
 * the join succeeds. */
static void watcher_stop(struct region *g)
{
    struct region_watcher *w = g->watcher;

    if (!w)
        return;
    atomic_store(&w->cancel, true);
    for (;;) {
        struct timespec ts;
        pthread_kill(w->thread, SIGRTMIN);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_timedjoin_np(w->thread, NULL, &ts) == 0)
            break;
    }
    close(w->fd);
    free(w);
    g->watcher = NULL;
}

static void watcher_start(struct region *g)
{
    static bool handler_set;
    struct region_watcher *w;
    sigset_t all, old;
    int ret;

    if (g->watcher || !g->pin_monitor || g->change_fd < 0)
        return;
    if (!handler_set) {
        struct sigaction sa = { .sa_handler = watcher_wake }; /* no SA_RESTART */
        sigaction(SIGRTMIN, &sa, NULL);
        handler_set = true;
    }
    w = calloc(1, sizeof(*w));
    if (!w)
        return;
    fmt(w->name, sizeof(w->name), "%s", g->name);
    w->seq = hmk_change_seq(g->r);
    w->fd = fcntl(g->change_fd, F_DUPFD_CLOEXEC, 3);
    if (w->fd < 0) {
        free(w);
        return;
    }
    /* the thread takes only watcher_stop's signal; the daemon's own go to
     * its signalfd */
    sigfillset(&all);
    sigdelset(&all, SIGRTMIN);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    ret = pthread_create(&w->thread, NULL, watcher_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ret != 0) {
        log_err("Failed to start the pin monitor's change watcher: %s", strerror(ret));
        close(w->fd);
        free(w);
        return;
    }
    g->watcher = w;
    /* the baseline the first change is compared with; a change after the
     * cursor was taken wakes the watcher, so none falls in between */
    pinmon_run(g, mono_ms());
}

static void detach(struct region *g)
{
    /* watch again before anyone tries to attach: no creation slips past */
    if (watch_shm(g) < 0)
        log_err("Failed to watch " REGION_SHM_DIR " again: %s; attaching only on retries",
                strerror(errno));
    watcher_stop(g);
    relay_stop(g->relay);
    g->relay = NULL;
    alive_stop(g->alive); /* 0 in the word: the bridge sees us gone at once */
    g->alive = NULL;
    hmk_close(g->r);
    g->r = NULL;
    pins_free(g);
}

void region_fini(struct region *g)
{
    detach(g);
    if (g->inotify_fd >= 0)
        close(g->inotify_fd);
    if (g->retry_fd >= 0)
        close(g->retry_fd);
    if (g->change_fd >= 0)
        close(g->change_fd);
    g->inotify_fd = g->retry_fd = g->change_fd = -1;
}

static void arm_retry(struct region *g)
{
    uint64_t ms;
    struct itimerspec its = { 0 };

    if (g->retries >= RETRY_MAX)
        return; /* give up until the next inotify event */
    ms = (uint64_t)RETRY_FIRST_MS << g->retries;
    if (ms > 2000)
        ms = 2000;
    g->retries++;
    its.it_value.tv_sec = (time_t)(ms / 1000);
    its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
    timerfd_settime(g->retry_fd, 0, &its, NULL);
}

void region_try_attach(struct region *g)
{
    struct hmk_stats st;
    int ret;

    if (g->r)
        return;
    ret = hmk_open(g->name, HMK_OPEN_RDONLY, &g->r);
    if (ret == 0 && (ret = hmk_cap_attach(g->r)) < 0) {
        /* the control block is rtapi_app's: only root can take it */
        if (ret != g->last_err)
            log_err("Cannot take region '%s''s control block from rtapi_app: %s%s", g->name,
                    hmk_strerror(ret), ret == -EPERM || ret == -EACCES ? " (the daemon must "
                    "run as root)" : "");
        hmk_close(g->r);
        g->r = NULL;
        g->last_err = ret;
        if (ret != -EPERM && ret != -EACCES)
            arm_retry(g);
        return;
    }
    if (ret == 0) {
        int err = 0;
        g->retries = 0;
        g->last_err = 0;
        hmk_heartbeat(g->r); /* connected as soon as we are attached */
        g->alive = alive_start(g->r, &err);
        if (!g->alive) { /* without the word the bridge never says connected */
            log_err("Cannot hold region '%s''s alive word: %s; retrying", g->name, hmk_strerror(err));
            hmk_close(g->r);
            g->r = NULL;
            arm_retry(g);
            return;
        }
        if (err)
            log_warn("Cannot make region '%s''s alive word a robust futex: %s; if the daemon "
                     "dies, HAL sees it only when the heartbeat goes stale", g->name, hmk_strerror(err));
        err = 0;
        g->relay = relay_start(g->name, &err);
        if (!g->relay)
            log_err("Cannot start the change relay for '%s': %s; readers fall back to "
                    "looking every 10 ms", g->name, hmk_strerror(err));
        unwatch_shm(g);
        if (hmk_stats(g->r, &st) == 0)
            log_info("Attached to region '%s' (generation %llu, %u pins)", g->name,
                     (unsigned long long)st.generation, st.pin_count);
        else
            log_info("Attached to region '%s'", g->name);
        watcher_start(g);
        return;
    }
    g->r = NULL;
    if (ret != g->last_err) {
        if (ret == -ENOENT)
            log_info("Waiting for region '%s' (bridge not loaded)", g->name);
        else if (ret == -EAGAIN || ret == -ESTALE || ret == -EBADMSG || ret == -EMSGSIZE)
            log_debug("Region '%s' not ready yet: %s", g->name, hmk_strerror(ret));
        else
            log_err("Cannot attach to region '%s': %s", g->name, hmk_strerror(ret));
        g->last_err = ret;
    }
    /* a region being created shows a short or half-initialised object, and a
     * detached one may linger until the new one replaces it: retry a few
     * times, then only on the next /dev/shm event */
    if (ret != -ENOENT && ret != -EPROTONOSUPPORT)
        arm_retry(g);
}

void region_on_inotify(struct region *g)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool ours = false;
    ssize_t n;

    while ((n = read(g->inotify_fd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->len && !strcmp(ev->name, g->name))
                ours = true;
            p += sizeof(*ev) + ev->len;
        }
    }
    if (ours && !g->r) {
        g->retries = 0;
        region_try_attach(g);
    }
}

void region_on_retry(struct region *g)
{
    uint64_t x;

    if (read(g->retry_fd, &x, sizeof(x)) < 0) {
        /* spurious wake-up: nothing to drain */
    }
    region_try_attach(g);
}

static void pinmon_log(struct region *g, unsigned i, const char *name, const char *side,
                       const hmk_value *a, const hmk_value *b, uint64_t now_ms)
{
    char va[48], vb[48];

    if (!pinmon_bucket_take(&g->bucket, now_ms))
        return; /* counted; reported by the summary line */
    if (pinmon_format(a, va, sizeof(va)) < 0)
        fmt(va, sizeof(va), "?");
    if (pinmon_format(b, vb, sizeof(vb)) < 0)
        fmt(vb, sizeof(vb), "?");
    log_info("[PIN-MON] Pin %u (%s)%s changed: %s -> %s", i, name, side, va, vb);
}

/* The "N changes suppressed" line, once a token is free again. Also run
 * from the heartbeat, so a burst that ends is reported without a change. */
static void pinmon_summary(struct region *g, uint64_t now_ms)
{
    uint64_t n_sup;

    if (!g->prev_in)
        return;
    n_sup = pinmon_bucket_flush(&g->bucket, now_ms);
    if (n_sup)
        log_info("[PIN-MON] %llu changes suppressed (more than %u lines/s)",
                 (unsigned long long)n_sup, g->pin_monitor_rate);
}

static void pinmon_run(struct region *g, uint64_t now_ms)
{
    unsigned n = hmk_pin_count(g->r);

    if (!g->prev_in || g->npins != n) {
        pins_free(g);
        g->prev_in = calloc(n ? n : 1, sizeof(hmk_value));
        g->prev_out = calloc(n ? n : 1, sizeof(hmk_value));
        if (!g->prev_in || !g->prev_out) {
            pins_free(g);
            return;
        }
        g->npins = n;
        pinmon_bucket_init(&g->bucket, g->pin_monitor_rate, now_ms);
    }
    for (unsigned i = 0; i < n; i++) {
        struct hmk_pin_info info;
        hmk_value vin = { 0 }, vout = { 0 };
        bool both;

        if (hmk_pin_info(g->r, i, &info) < 0)
            continue;
        both = info.slot || info.dir == HMK_DIR_IO;
        if (hmk_read_in(g->r, i, &vin) < 0)
            vin.type = 0;
        if (hmk_read_out(g->r, i, &vout) < 0)
            vout.type = 0;
        if (g->have_prev) {
            if (vin.type && g->prev_in[i].type && !pinmon_value_equal(&g->prev_in[i], &vin))
                pinmon_log(g, i, info.name, both ? " in" : "", &g->prev_in[i], &vin, now_ms);
            if (vout.type && g->prev_out[i].type && !pinmon_value_equal(&g->prev_out[i], &vout))
                pinmon_log(g, i, info.name, both ? " out" : "", &g->prev_out[i], &vout, now_ms);
        }
        g->prev_in[i] = vin;
        g->prev_out[i] = vout;
    }
    g->have_prev = true;
    pinmon_summary(g, now_ms);
}

void region_tick(struct region *g, uint64_t now_ms)
{
    int ret;

    if (!g->r)
        return;
    ret = hmk_check(g->r);
    if (ret == 0)
        ret = hmk_heartbeat(g->r);
    if (ret == -ESTALE) {
        log_info("Region '%s' detached by the bridge; waiting for a new one", g->name);
        detach(g);
        g->last_err = 0;
        g->retries = 0;
        region_try_attach(g);
        return;
    }
    if (ret < 0) {
        if (ret != g->last_err)
            log_err("Heartbeat on region '%s' failed: %s", g->name, hmk_strerror(ret));
        g->last_err = ret;
        return;
    }
    /* the pin monitor may have been switched on or off by a reload */
    if (g->pin_monitor && !g->watcher)
        watcher_start(g);
    else if (!g->pin_monitor && g->watcher) {
        watcher_stop(g);
        pins_free(g);
    }
    if (g->pin_monitor)
        pinmon_summary(g, now_ms);
}

void region_on_change(struct region *g, uint64_t now_ms)
{
    uint64_t x;

    if (read(g->change_fd, &x, sizeof(x)) < 0) {
        /* spurious: nothing to drain */
    }
    if (g->r && g->pin_monitor)
        pinmon_run(g, now_ms);
}

void region_rename(struct region *g, const char *name)
{
    if (!strcmp(g->name, name))
        return;
    if (g->r)
        log_info("Detached from region '%s'", g->name);
    detach(g);
    fmt(g->name, sizeof(g->name), "%s", name);
    g->last_err = 0;
    g->retries = 0;
    region_try_attach(g);
}

int region_channel_fd(struct region *g, unsigned k, char *const *writes)
{
    uint64_t bits[HMK_GRANT_WORDS_PUB] = { 0 };
    int ret;

    if (!g->r)
        return -ENOENT;
    if (k >= hmk_cap_channels(g->r))
        return -ERANGE;
    for (char *const *w = writes; w && *w; w++) {
        int i = hmk_pin_find(g->r, *w);
        if (i < 0)
            return -ENXIO;
        bits[i / 64] |= 1ull << (i % 64);
    }
    ret = hmk_cap_grant(g->r, k, bits);
    return ret < 0 ? ret : hmk_cap_channel_fd(g->r, k);
}

void region_channel_revoke(struct region *g, unsigned k)
{
    static const uint64_t none[HMK_GRANT_WORDS_PUB];

    if (g->r && k > 0 && k < hmk_cap_channels(g->r))
        hmk_cap_grant(g->r, k, none);
}

unsigned region_channels(const struct region *g)
{
    return g->r ? hmk_cap_channels(g->r) : 0;
}

int region_tools_channel_fd(struct region *g)
{
    return g->r ? hmk_cap_channel_fd(g->r, 0) : -ENOENT;
}

uint64_t region_cycle(const struct region *g)
{
    return g->r ? hmk_cycle(g->r) : 0;
}
