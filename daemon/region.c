/* region.c - see region.h */
#include "region.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"

#define RETRY_FIRST_MS 20u
#define RETRY_MAX 10u /* 20ms doubling, capped at 2 s: about 10 s in all */

int region_init(struct region *g, const char *name)
{
    memset(g, 0, sizeof(*g));
    g->inotify_fd = g->retry_fd = -1;
    snprintf(g->name, sizeof(g->name), "%s", name);
    g->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (g->retry_fd < 0)
        return -errno;
    g->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (g->inotify_fd < 0)
        return -errno;
    /* IN_CLOSE_WRITE: the bridge closes its fd once the region is set up */
    if (inotify_add_watch(g->inotify_fd, REGION_SHM_DIR,
                          IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB) < 0)
        return -errno;
    return 0;
}

static void pins_free(struct region *g)
{
    free(g->prev_in);
    free(g->prev_out);
    g->prev_in = g->prev_out = NULL;
    g->npins = 0;
    g->have_prev = false;
}

static void detach(struct region *g)
{
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
    g->inotify_fd = g->retry_fd = -1;
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
    ret = hmk_open(g->name, 0, &g->r);
    if (ret == 0) {
        g->retries = 0;
        g->last_err = 0;
        if (hmk_stats(g->r, &st) == 0)
            log_info("Attached to region '%s' (generation %llu, %u pins)", g->name,
                     (unsigned long long)st.generation, st.pin_count);
        else
            log_info("Attached to region '%s'", g->name);
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
        snprintf(va, sizeof(va), "?");
    if (pinmon_format(b, vb, sizeof(vb)) < 0)
        snprintf(vb, sizeof(vb), "?");
    log_info("[PIN-MON] Pin %u (%s)%s changed: %s -> %s", i, name, side, va, vb);
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
    {
        uint64_t n_sup = pinmon_bucket_flush(&g->bucket, now_ms);
        if (n_sup)
            log_info("[PIN-MON] %llu changes suppressed (more than %u lines/s)", (unsigned long long)n_sup,
                     g->pin_monitor_rate);
    }
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
    if (g->pin_monitor)
        pinmon_run(g, now_ms);
    else if (g->prev_in)
        pins_free(g);
}

void region_rename(struct region *g, const char *name)
{
    if (!strcmp(g->name, name))
        return;
    if (g->r)
        log_info("Detached from region '%s'", g->name);
    detach(g);
    snprintf(g->name, sizeof(g->name), "%s", name);
    g->last_err = 0;
    g->retries = 0;
    region_try_attach(g);
}
