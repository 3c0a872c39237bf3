/*
 * The service framework (include/halmk_service.h): attach and re-attach,
 * readiness, signals, the change loop and one transaction per round.
 */
#include "halmk_service.h"
#include "halmk_int.h"
#include "hmk_svc_abi.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#define SVC_MAX_PINS 1024

struct hmk_svc {
    const struct hmk_svc_def *def;
    hmk_region *r;
    hmk_txn *txn;
    unsigned nreads, nwrites;
    unsigned read_idx[SVC_MAX_PINS];
    unsigned write_idx[SVC_MAX_PINS];
    bool changed[SVC_MAX_PINS];
    uint64_t since;
    int period_ms;
    bool stop;
};

static volatile sig_atomic_t svc_signalled;

/* A SIGTERM that lands between the loop's check of the flag and its entry
 * into the futex wait (or poll) would be missed, and no call waits on a
 * futex with a signal mask. So the handler also arms SIGALRM (alarm() is
 * async-signal-safe): if the race happened, the alarm interrupts the wait
 * a second later and the loop sees the flag. */
static void svc_on_signal(int sig)
{
    if (sig == SIGALRM)
        return;
    svc_signalled = 1;
    alarm(1);
}

static int svc_fail(int ret, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int svc_fail(int ret, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return ret;
}

int hmk_ready(void)
{
    const char *env = getenv(HMK_ENV_READY_FD);
    static const char msg[] = "READY=1\n";
    char *end;
    long fd;
    ssize_t n;

    if (!env || !*env)
        return 0;
    errno = 0;
    fd = strtol(env, &end, 10);
    if (errno || *end || fd < 3 || fd > INT_MAX)
        return -EBADF;
    do
        n = write((int)fd, msg, sizeof(msg) - 1);
    while (n < 0 && errno == EINTR);
    close((int)fd);
    unsetenv(HMK_ENV_READY_FD); /* once: a re-attach must not write again */
    return n == (ssize_t)(sizeof(msg) - 1) ? 0 : -EIO;
}

static int64_t svc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int hmk_open_wait(const char *name, unsigned flags, int timeout_ms, hmk_region **out)
{
    int64_t deadline = svc_now_ms() + timeout_ms;
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK), ret;

    if (fd < 0)
        return -errno;
    /* watch first, then try: a region created in between is not missed */
    if (inotify_add_watch(fd, "/dev/shm", IN_CREATE | IN_MOVED_TO) < 0) {
        ret = -errno;
        goto out;
    }
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        int left = timeout_ms < 0 ? -1 : (int)(deadline - svc_now_ms());

        ret = hmk_open(name, flags, out);
        /* -ESTALE: the old region is being replaced; the new one's rename
         * is an inotify event too */
        if (ret != -ENOENT && ret != -ESTALE && ret != -EAGAIN)
            break;
        if (svc_signalled) {
            ret = -EINTR;
            break;
        }
        if (timeout_ms >= 0 && left <= 0) {
            ret = -ETIMEDOUT;
            break;
        }
        if (poll(&p, 1, left) < 0 && errno == EINTR) {
            ret = -EINTR;
            break;
        }
        while (read(fd, buf, sizeof(buf)) > 0)
            ; /* drain: any event means "look again" */
    }
out:
    close(fd);
    return ret;
}

static int svc_resolve(hmk_svc *s, char *err, size_t errlen)
{
    const struct hmk_svc_def *d = s->def;
    struct hmk_pin_info info;
    int i;

    s->nreads = s->nwrites = 0;
    for (unsigned k = 0; d->reads && d->reads[k]; k++) {
        i = hmk_pin_find(s->r, d->reads[k]);
        if (i < 0)
            return svc_fail(-ENOENT, err, errlen, "pin '%s': no such pin in region '%s'",
                            d->reads[k], hmk_region_name(s->r));
        hmk_pin_info(s->r, (unsigned)i, &info);
        if (info.dir == HMK_DIR_OUT)
            return svc_fail(-EINVAL, err, errlen,
                            "pin '%s' is an out pin: HAL feeds it nothing to read", d->reads[k]);
        if (s->nreads == SVC_MAX_PINS)
            return svc_fail(-E2BIG, err, errlen, "more than %d read pins", SVC_MAX_PINS);
        s->read_idx[s->nreads++] = (unsigned)i;
    }
    for (unsigned k = 0; d->writes && d->writes[k]; k++) {
        hmk_value probe;
        i = hmk_pin_find(s->r, d->writes[k]);
        if (i < 0)
            return svc_fail(-ENOENT, err, errlen, "pin '%s': no such pin in region '%s'",
                            d->writes[k], hmk_region_name(s->r));
        hmk_pin_info(s->r, (unsigned)i, &info);
        /* stage the current value: proves the pin writable and granted now,
         * not at the first write; the staging is cleared right after */
        if (hmk_read_out(s->r, (unsigned)i, &probe) == 0) {
            int ret = hmk_txn_set(s->txn, (unsigned)i, &probe);
            hmk_txn_clear(s->txn);
            if (ret < 0)
                return svc_fail(ret, err, errlen, "pin '%s': %s", d->writes[k],
                                (ret == -EPERM || ret == -EROFS)
                                    ? "not writable by this service (see writes =)"
                                              : hmk_strerror(ret));
        } else {
            return svc_fail(-EPERM, err, errlen, "pin '%s' is an in pin: it cannot be written",
                            d->writes[k]);
        }
        if (s->nwrites == SVC_MAX_PINS)
            return svc_fail(-E2BIG, err, errlen, "more than %d write pins", SVC_MAX_PINS);
        s->write_idx[s->nwrites++] = (unsigned)i;
    }
    return 0;
}

static void svc_detach(hmk_svc *s)
{
    hmk_txn_free(s->txn);
    hmk_close(s->r);
    s->txn = NULL;
    s->r = NULL;
}

static int svc_attach(hmk_svc *s, char *err, size_t errlen)
{
    const struct hmk_svc_def *d = s->def;
    unsigned flags = (d->writes && d->writes[0]) ? 0 : HMK_OPEN_RDONLY;
    int ret = hmk_open_wait(d->region, flags, -1, &s->r);

    if (ret == -EINTR)
        return ret;
    if (ret < 0)
        return svc_fail(ret, err, errlen, "region '%s': %s",
                        d->region ? d->region : "(default)", hmk_strerror(ret));
    ret = hmk_txn_new(s->r, &s->txn);
    if (ret < 0)
        return svc_fail(ret, err, errlen, "%s", hmk_strerror(ret));
    return svc_resolve(s, err, errlen);
}

/* One round: the handlers for every changed read pin, then one commit. */
static int svc_round(hmk_svc *s, bool all)
{
    const struct hmk_svc_def *d = s->def;
    uint64_t cycle = hmk_cycle(s->r);
    /* the wake's latest stamp: the change's own when the service woke in
     * its cycle, else later (the reaction is then a lower bound) */
    uint64_t stamp = hmk_cycle_time(s->r, cycle);
    int ret = 0;

    for (unsigned k = 0; k < s->nreads && ret >= 0 && !s->stop; k++) {
        hmk_value v;
        if (!all && !s->changed[k])
            continue;
        ret = hmk_read_in(s->r, s->read_idx[k], &v);
        if (ret >= 0 && d->on_change)
            ret = d->on_change(s, k, &v, cycle, d->user);
    }
    if (ret >= 0)
        ret = hmk_svc_commit(s);
    /* the first round after an attach reacts to no change */
    for (unsigned k = 0; !all && ret >= 0 && k < s->nreads; k++)
        if (s->changed[k])
            hmk_reaction(stamp);
    return ret;
}

/* Stream mode: every change of a read pin, in order, and what was lost. */
static int svc_stream_loop(hmk_svc *s, hmk_stream *st)
{
    const struct hmk_svc_def *d = s->def;
    struct hmk_event ev[64];
    uint64_t lost = 0, reported = 0;
    int ret = 0;

    while (ret >= 0 && !s->stop && !svc_signalled) {
        int n = hmk_stream_read(st, ev, 64, s->period_ms > 0 ? s->period_ms : -1, &lost);

        ret = 0;
        if (lost != reported && d->on_lost) {
            ret = d->on_lost(s, lost - reported, d->user);
            reported = lost;
        }
        bool handled[64] = { false };
        for (int k = 0; ret >= 0 && k < n && !s->stop; k++)
            for (unsigned r = 0; r < s->nreads; r++)
                if (s->read_idx[r] == ev[k].pin && d->on_change) {
                    ret = d->on_change(s, r, &ev[k].value, ev[k].cycle, d->user);
                    handled[k] = true;
                    break;
                }
        if (ret >= 0 && n == -ETIMEDOUT && d->on_tick)
            ret = d->on_tick(s, d->user);
        else if (ret >= 0 && n < 0 && n != -ETIMEDOUT && n != -EINTR)
            ret = n;
        if (ret >= 0)
            ret = hmk_svc_commit(s);
        for (int k = 0; ret >= 0 && k < n; k++)
            if (handled[k])
                hmk_reaction(ev[k].time_ns); /* the change's own cycle stamp */
    }
    return ret;
}

/* Subscribe (stream mode), then the first round over the pins as they are:
 * a change right after it is then in the stream or seen by the next wait,
 * never lost between the two. Readiness is reported only after this. */
static int svc_begin(hmk_svc *s, hmk_stream **st)
{
    const struct hmk_svc_def *d = s->def;
    int ret;

    *st = NULL;
    if (d->stream && (ret = hmk_stream_open(s->r, st)) < 0)
        return ret;
    s->since = hmk_cycle(s->r);
    ret = d->on_attach ? d->on_attach(s, d->user) : 0;
    if (ret >= 0)
        ret = svc_round(s, true);
    return ret;
}

static int svc_loop(hmk_svc *s, hmk_stream *st)
{
    const struct hmk_svc_def *d = s->def;
    int ret = 0;

    if (st)
        return svc_stream_loop(s, st);
    while (ret >= 0 && !s->stop && !svc_signalled) {
        ret = hmk_wait(s->r, s->read_idx, s->nreads, &s->since,
                       s->period_ms > 0 ? s->period_ms : -1, s->changed);
        if (ret > 0) {
            ret = svc_round(s, false);
        } else if (ret == -ETIMEDOUT) {
            ret = d->on_tick ? d->on_tick(s, d->user) : 0;
            if (ret >= 0)
                ret = hmk_svc_commit(s); /* what on_tick staged, as one transaction */
        } else if (ret == -EINTR) {
            ret = 0;
        }
    }
    return ret;
}

int hmk_svc_run(const struct hmk_svc_def *def, char *err, size_t errlen)
{
    struct sigaction sa;
    hmk_svc *s;
    bool first = true;
    int ret;

    if (!def)
        return -EINVAL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return svc_fail(-ENOMEM, err, errlen, "out of memory");
    s->def = def;
    s->period_ms = def->period_ms;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = svc_on_signal; /* no SA_RESTART: waits must return */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    for (;;) {
        hmk_stream *st = NULL;
        ret = svc_attach(s, err, errlen);
        if (ret < 0)
            break;
        ret = svc_begin(s, &st);
        /* ready: subscribed and the pins' first values handled, so what
         * starts after this service (after =) cannot change a pin unseen */
        if (ret >= 0 && first) {
            ret = hmk_ready();
            if (ret < 0) {
                svc_fail(ret, err, errlen, "cannot report readiness: %s", strerror(-ret));
                hmk_stream_close(st);
                break;
            }
            first = false;
        }
        if (ret >= 0)
            ret = svc_loop(s, st);
        hmk_stream_close(st);
        /* -ESTALE from a region that is still attached (its change stream
         * missing, say) is not a restart of LinuxCNC: re-attaching would
         * only find the same region again, at full speed */
        if (ret == -ESTALE && s->r && hmk_check(s->r) == 0)
            ret = -EBADMSG;
        if (ret != -ESTALE || svc_signalled)
            break;
        svc_detach(s); /* LinuxCNC restarted: wait for the new region */
    }
    if (ret == -EINTR || svc_signalled || s->stop) {
        if (def->on_stop && s->r)
            def->on_stop(s, def->user);
        if (s->r)
            hmk_svc_commit(s);
        ret = 0;
    } else if (ret < 0 && err && errlen && !err[0]) {
        svc_fail(ret, err, errlen, "%s", hmk_strerror(ret));
    }
    svc_detach(s);
    free(s);
    return ret;
}

int hmk_svc_set(hmk_svc *s, unsigned slot, const hmk_value *v)
{
    if (slot >= s->nwrites)
        return -ERANGE;
    return hmk_txn_set(s->txn, s->write_idx[slot], v);
}

int hmk_svc_set_float(hmk_svc *s, unsigned slot, double f)
{
    hmk_value v = { .type = HMK_TYPE_FLOAT, .f = f };
    return hmk_svc_set(s, slot, &v);
}

int hmk_svc_set_bit(hmk_svc *s, unsigned slot, bool b)
{
    hmk_value v = { .type = HMK_TYPE_BIT, .b = b };
    return hmk_svc_set(s, slot, &v);
}

int hmk_svc_commit(hmk_svc *s)
{
    int ret = hmk_txn_commit(s->txn);
    return ret < 0 ? ret : 0;
}

int hmk_svc_get(hmk_svc *s, unsigned slot, hmk_value *v)
{
    if (slot >= s->nreads)
        return -ERANGE;
    return hmk_read_in(s->r, s->read_idx[slot], v);
}

hmk_region *hmk_svc_region(hmk_svc *s)
{
    return s->r;
}

int hmk_svc_read_info(hmk_svc *s, unsigned slot, struct hmk_pin_info *info)
{
    if (slot >= s->nreads)
        return -ERANGE;
    return hmk_pin_info(s->r, s->read_idx[slot], info);
}

int hmk_svc_write_info(hmk_svc *s, unsigned slot, struct hmk_pin_info *info)
{
    if (slot >= s->nwrites)
        return -ERANGE;
    return hmk_pin_info(s->r, s->write_idx[slot], info);
}

void hmk_svc_set_period(hmk_svc *s, int period_ms)
{
    s->period_ms = period_ms;
}

void hmk_svc_stop(hmk_svc *s)
{
    s->stop = true;
}
