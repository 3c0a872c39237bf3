/*
 * The change stream's reader side (include/halmk.h, layout and writer in
 * include/hmk_region.h). Lock-free: a reader never makes the bridge wait
 * and never returns a record that was overwritten while it read it.
 */
#include "halmk.h"
#include "halmk_int.h"
#include "hmk_region.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct hmk_stream {
    hmk_region *r;
    struct hmk_stream_hdr *st;
    size_t size;
    uint64_t pos;                 /* next position to read */
    uint8_t type[HMK_MAX_PINS];   /* pin types, to decode values */
    unsigned npins;
};

int hmk_stream_open(hmk_region *r, hmk_stream **out)
{
    char path[NAME_MAX + 2];
    struct hmk_stream_hdr h;
    struct hmk_stats stats;
    hmk_stream *s = NULL;
    struct stat sb;
    int fd, ret;

    if (!r || !out)
        return -EINVAL;
    ret = hmk_stats(r, &stats);
    if (ret < 0)
        return ret;
    snprintf(path, sizeof(path), "/%s%s", hmk_region_name(r), HMK_STREAM_SUFFIX);
    fd = shm_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return errno == ENOENT ? -ESTALE : -errno;
    if (fstat(fd, &sb) < 0 || sb.st_size < (off_t)sizeof(h) ||
        pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.magic != HMK_STREAM_MAGIC ||
        h.depth == 0 || h.depth > HMK_STREAM_MAX_DEPTH ||
        (uint64_t)sb.st_size != sizeof(h) + (uint64_t)h.depth * sizeof(struct hmk_stream_rec)) {
        ret = -EBADMSG;
        goto fail;
    }
    if (h.generation != stats.generation) {
        ret = -ESTALE;
        goto fail;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        ret = -ENOMEM;
        goto fail;
    }
    s->size = (size_t)sb.st_size;
    s->st = mmap(NULL, s->size, PROT_READ, MAP_SHARED, fd, 0);
    if (s->st == MAP_FAILED) {
        ret = -errno;
        goto fail;
    }
    s->r = r;
    s->npins = hmk_pin_count(r);
    for (unsigned i = 0; i < s->npins; i++) {
        struct hmk_pin_info info;
        hmk_pin_info(r, i, &info);
        s->type[i] = (uint8_t)info.type;
    }
    s->pos = atomic_load_explicit(&s->st->head, memory_order_acquire);
    close(fd);
    *out = s;
    return 0;
fail:
    if (s && s->st && s->st != MAP_FAILED)
        munmap(s->st, s->size);
    free(s);
    close(fd);
    return ret;
}

void hmk_stream_close(hmk_stream *s)
{
    if (!s)
        return;
    munmap(s->st, s->size);
    free(s);
}

static void stream_decode(const hmk_stream *s, unsigned pin, uint64_t raw, hmk_value *v)
{
    v->type = (enum hmk_type)s->type[pin];
    switch (v->type) {
    case HMK_TYPE_BIT:   v->b = raw != 0; break;
    case HMK_TYPE_FLOAT: v->f = hmk_dec_float(raw); break;
    case HMK_TYPE_S32:   v->s = hmk_dec_s32(raw); break;
    default:             v->u = (uint32_t)raw; break;
    }
}

/* Copies what is there now; 0 if the reader is at the head. */
static int stream_take(hmk_stream *s, struct hmk_event *ev, unsigned max, uint64_t *lost)
{
    const struct hmk_stream_hdr *st = s->st;
    uint64_t head = atomic_load_explicit(&st->head, memory_order_acquire);
    unsigned n = 0;

    if (head - s->pos > st->depth) {
        *lost += head - st->depth - s->pos; /* overwritten before we came */
        s->pos = head - st->depth;
    }
    while (n < max && s->pos < head) {
        const struct hmk_stream_rec *rec = &st->rec[s->pos % st->depth];
        uint64_t seq = atomic_load_explicit(&rec->seq, memory_order_acquire), cycle, value, t;
        uint32_t pin;

        cycle = atomic_load_explicit(&rec->cycle, memory_order_relaxed);
        value = atomic_load_explicit(&rec->value, memory_order_relaxed);
        t = atomic_load_explicit(&rec->time_ns, memory_order_relaxed);
        pin = atomic_load_explicit(&rec->pin, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (seq != s->pos + 1 || atomic_load_explicit(&rec->seq, memory_order_relaxed) != seq ||
            pin >= s->npins) {
            /* the bridge lapped us while we read: count it, move on */
            (*lost)++;
            s->pos++;
            continue;
        }
        ev[n].cycle = cycle;
        ev[n].pin = pin;
        ev[n].time_ns = t;
        stream_decode(s, pin, value, &ev[n].value);
        n++;
        s->pos++;
    }
    return (int)n;
}

int hmk_stream_read(hmk_stream *s, struct hmk_event *ev, unsigned max, int timeout_ms,
                    uint64_t *lost)
{
    uint64_t dummy = 0;
    struct timespec now;
    int64_t deadline = 0;

    if (!s || (max && !ev))
        return -EINVAL;
    if (!lost)
        lost = &dummy;
    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        deadline = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + timeout_ms;
    }
    for (;;) {
        /* the cursor first, so an append after the look ends the sleep */
        uint32_t seq = hmk_change_seq(s->r);
        int n = stream_take(s, ev, max, lost), ret, left = -1;

        if (n > 0)
            return n;
        ret = hmk_check(s->r);
        if (ret < 0)
            return ret;
        if (timeout_ms >= 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            left = (int)(deadline - ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000));
            if (left <= 0)
                return -ETIMEDOUT;
        }
        /* a commit of out values wakes us too; take() then finds nothing
         * and we wait again for what is left of the timeout */
        ret = hmk_wait_change(s->r, &seq, left);
        if (ret < 0)
            return ret;
    }
}

/* ---- hmk_change_fd: the change word as a pollable descriptor ----------- */

struct hmk_notify {
    pthread_t th;
    int efd;                      /* eventfd: readable = a change not acked */
    atomic_bool stop;             /* hmk_close: return */
    atomic_int end;               /* 0 while following; then why it returned */
};

/* First calls of hmk_change_fd on one handle from two threads: one thread */
static pthread_mutex_t notify_lock = PTHREAD_MUTEX_INITIALIZER;

/* The thread: hmk_wait_change for ever, one eventfd post per change. Its
 * last post (detach, or an error) comes after `end` is set, so an ack that
 * sees the post also sees why. */
static void *notify_main(void *arg)
{
    hmk_region *r = arg;
    struct hmk_notify *n = r->notify;
    uint32_t seq = hmk_change_seq(r);
    uint64_t one = 1;

    while (!atomic_load(&n->stop)) {
        int ret = hmk_wait_change_or(r, &seq, -1, &n->stop);

        if (ret == -ECANCELED || atomic_load(&n->stop))
            break;
        if (ret == -EINTR) /* every signal is blocked here; stay safe anyway */
            continue;
        if (ret < 0)
            atomic_store(&n->end, ret);
        /* EAGAIN: the counter is full of unacked posts, readable already */
        if (write(n->efd, &one, sizeof(one)) < 0 && errno != EAGAIN && ret == 0)
            atomic_store(&n->end, -errno);
        if (atomic_load(&n->end))
            break;
    }
    return NULL;
}

static int notify_start(hmk_region *r)
{
    struct hmk_notify *n = calloc(1, sizeof(*n));
    sigset_t all, old;
    int ret;

    if (!n)
        return -ENOMEM;
    n->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (n->efd < 0) {
        ret = -errno;
        free(n);
        return ret;
    }
    r->notify = n;
    /* no signal of the program's lands on a thread it does not know */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    ret = -pthread_create(&n->th, NULL, notify_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ret < 0) {
        r->notify = NULL;
        close(n->efd);
        free(n);
    }
    return ret;
}

int hmk_change_fd(hmk_region *r)
{
    int ret;

    if (!r)
        return -EINVAL;
    pthread_mutex_lock(&notify_lock);
    ret = r->notify ? 0 : hmk_check(r);
    if (ret == 0 && !r->notify)
        ret = notify_start(r);
    if (ret == 0)
        ret = r->notify->efd;
    pthread_mutex_unlock(&notify_lock);
    return ret;
}

int hmk_change_fd_ack(hmk_region *r)
{
    struct hmk_notify *n = r ? r->notify : NULL;
    uint64_t v;
    int end;

    if (!n)
        return -EINVAL;
    end = atomic_load(&n->end);
    if (end < 0)
        return end; /* not drained: readable for good */
    if (read(n->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return -errno;
    return hmk_check(r);
}

/* Stops and joins the thread. It sleeps in FUTEX_WAIT on the region's
 * change word, which this process cannot write (read-only mapping) but may
 * wake: the wake reaches every waiter on the word, which all re-check it
 * and sleep again (one spurious wake-up per close). A wake that lands just
 * before the thread goes to sleep is lost, hence the loop; each round
 * waits 10 ms for the join. */
void hmk_notify_stop(hmk_region *r)
{
    struct hmk_notify *n = r->notify;

    if (!n)
        return;
    atomic_store(&n->stop, true);
    for (;;) {
        struct timespec ts;

        syscall(SYS_futex, &r->shm->hdr.change_word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        if (pthread_timedjoin_np(n->th, NULL, &ts) == 0)
            break;
    }
    close(n->efd);
    free(n);
    r->notify = NULL;
}
