/*
 * Bounded message queues between services (contract in include/halmk.h).
 *
 * Layout: a header, then `depth` slots of {seq, len, data[msg_size]}. The
 * slot for position p is p % depth; a sender fills it and then publishes
 * seq = p + 1 and tail = p + 1 (release); the receiver checks seq, copies,
 * then publishes head = p + 1 (release), which hands the slot back. Senders
 * hold send.lock, the receiver holds recv.lock: both robust, so a process
 * killed while holding one leaves it recoverable, and the invariants above
 * say what to repair. The futex words `items` and `space` are bumped on
 * every send and receive; a side that must wait registers first.
 */
#include "halmk.h"
#include "hmk_region.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#define Q_MAGIC   0x514d4c48u /* "HLMQ" */
#define Q_VERSION 1u
#define Q_MAX_DEPTH (1u << 20)
#define Q_MAX_MSG   65536u

struct q_slot {
    _Atomic uint64_t seq;
    uint32_t len;
    uint32_t reserved;
    unsigned char data[];
};

struct q_shm {
    uint32_t magic, version, depth, msg_size, slot_size, reserved;
    uint8_t pad0[40];
    union { pthread_mutex_t lock; uint8_t space[64]; } send, recv;
    _Atomic uint64_t head, tail;
    _Atomic uint32_t items, space;
    _Atomic uint32_t recv_waiters, send_waiters;
    _Atomic uint64_t sent, received, recoveries;
    uint8_t pad1[8];
};
_Static_assert(sizeof(pthread_mutex_t) <= 64, "mutex fits");
_Static_assert(sizeof(struct q_shm) % 64 == 0, "slots start aligned");

struct hmk_queue {
    struct q_shm *q;
    size_t size;
    bool may_send, may_recv;
    /* the geometry as validated at open: every index and length below is
     * computed from these, never from the shared header, which any peer
     * of the queue can write */
    uint32_t depth, msg_size, slot_size;
};

static size_t q_slot_size(unsigned msg_size)
{
    return (sizeof(struct q_slot) + msg_size + 7u) & ~(size_t)7u;
}

static struct q_slot *q_at(const struct hmk_queue *h, uint64_t pos)
{
    return (struct q_slot *)((char *)h->q + sizeof(*h->q) + (pos % h->depth) * h->slot_size);
}

static int q_path(const char *name, char *buf, size_t len)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > 64)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
              (name[i] >= '0' && name[i] <= '9') || name[i] == '_' || name[i] == '-'))
            return -EINVAL;
    snprintf(buf, len, "/dev/shm/hmkq.%s", name);
    return 0;
}


static int q_check(const struct q_shm *q, off_t size)
{
    if (size < (off_t)sizeof(*q) || q->magic != Q_MAGIC)
        return -EBADMSG;
    if (q->version != Q_VERSION)
        return -EPROTONOSUPPORT;
    if (q->depth == 0 || q->depth > Q_MAX_DEPTH || q->msg_size == 0 || q->msg_size > Q_MAX_MSG ||
        q->slot_size != q_slot_size(q->msg_size) ||
        (uint64_t)size != sizeof(*q) + (uint64_t)q->depth * q->slot_size)
        return -EMSGSIZE;
    return 0;
}

static int q_map(const char *path, int flags, unsigned mode, struct hmk_queue **out)
{
    struct hmk_queue *h = NULL;
    struct q_shm hdr;
    struct stat st;
    int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW, mode), ret;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        ret = -errno;
        goto out;
    }
    if (st.st_size < (off_t)sizeof(hdr) || pread(fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
        ret = -EBADMSG;
        goto out;
    }
    ret = q_check(&hdr, st.st_size);
    if (ret < 0)
        goto out;
    h = calloc(1, sizeof(*h));
    if (!h) {
        ret = -ENOMEM;
        goto out;
    }
    h->size = (size_t)st.st_size;
    h->depth = hdr.depth;
    h->msg_size = hdr.msg_size;
    h->slot_size = hdr.slot_size;
    h->q = mmap(NULL, h->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (h->q == MAP_FAILED) {
        ret = -errno;
        free(h);
        goto out;
    }
    *out = h;
out:
    close(fd);
    return ret;
}

int hmk_queue_create(const char *name, unsigned depth, unsigned msg_size, unsigned mode)
{
    char path[128], tmp[160];
    struct hmk_queue *old = NULL;
    struct q_shm *q;
    size_t size;
    int fd, ret = q_path(name, path, sizeof(path));

    if (ret < 0)
        return ret;
    if (depth == 0 || depth > Q_MAX_DEPTH || msg_size == 0 || msg_size > Q_MAX_MSG)
        return -ERANGE;
    ret = q_map(path, O_RDWR, 0, &old);
    if (ret == 0) {
        /* kept across daemon restarts, with its messages */
        ret = (old->q->depth == depth && old->q->msg_size == msg_size) ? 0 : -EEXIST;
        hmk_queue_close(old);
        return ret;
    }
    if (ret != -ENOENT)
        return ret == -EBADMSG || ret == -EMSGSIZE || ret == -EPROTONOSUPPORT ? -EEXIST : ret;
    size = sizeof(*q) + (size_t)depth * q_slot_size(msg_size);
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    unlink(tmp);
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -errno;
    ret = fchmod(fd, mode) < 0 ? -errno : -posix_fallocate(fd, 0, (off_t)size);
    q = ret < 0 ? MAP_FAILED : mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (ret == 0 && q == MAP_FAILED)
        ret = -errno;
    if (ret < 0) {
        unlink(tmp);
        return ret;
    }
    q->version = Q_VERSION;
    q->depth = depth;
    q->msg_size = msg_size;
    q->slot_size = (uint32_t)q_slot_size(msg_size);
    hmk_mutex_init_shared(&q->send.lock);
    hmk_mutex_init_shared(&q->recv.lock);
    q->magic = Q_MAGIC;
    munmap(q, size);
    /* appears whole or not at all */
    if (rename(tmp, path) < 0) {
        ret = -errno;
        unlink(tmp);
    }
    return ret;
}

int hmk_queue_unlink(const char *name)
{
    char path[128];
    int ret = q_path(name, path, sizeof(path));

    if (ret < 0)
        return ret;
    return unlink(path) < 0 ? -errno : 0;
}

/* Is name in the comma-separated list in $var? */
static bool q_granted(const char *var, const char *name)
{
    const char *list = getenv(var);
    size_t n = strlen(name);

    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncmp(p, name, n))
            return true;
        p += len + (end ? 1 : 0);
    }
    return false;
}

int hmk_queue_open(const char *name, hmk_queue **out)
{
    char path[128];
    bool limited = getenv("HMK_QUEUES_SEND") || getenv("HMK_QUEUES_RECV");
    bool may_send = !limited || q_granted("HMK_QUEUES_SEND", name);
    bool may_recv = !limited || q_granted("HMK_QUEUES_RECV", name);
    int ret = q_path(name, path, sizeof(path));

    if (ret < 0 || !out)
        return ret < 0 ? ret : -EINVAL;
    /* under the daemon, a service opens only the queues its config names */
    if (!may_send && !may_recv)
        return -EPERM;
    ret = q_map(path, O_RDWR, 0, out);
    if (ret == 0) {
        (*out)->may_send = may_send;
        (*out)->may_recv = may_recv;
    }
    return ret;
}

void hmk_queue_close(hmk_queue *h)
{
    if (!h)
        return;
    munmap(h->q, h->size);
    free(h);
}

int hmk_queue_stats(const hmk_queue *h, struct hmk_queue_stats *o)
{
    const struct q_shm *q = h->q;

    o->depth = h->depth;
    o->msg_size = h->msg_size;
    o->queued = (unsigned)(atomic_load(&q->tail) - atomic_load(&q->head));
    o->sent = atomic_load(&q->sent);
    o->received = atomic_load(&q->received);
    o->recoveries = atomic_load(&q->recoveries);
    return 0;
}

/* ---- waiting ---------------------------------------------------------- */

struct q_deadline {
    int timeout_ms;
    struct timespec at; /* CLOCK_MONOTONIC */
};

static void q_deadline_init(struct q_deadline *d, int timeout_ms)
{
    d->timeout_ms = timeout_ms;
    clock_gettime(CLOCK_MONOTONIC, &d->at);
    if (timeout_ms > 0) {
        d->at.tv_sec += timeout_ms / 1000;
        d->at.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (d->at.tv_nsec >= 1000000000L) {
            d->at.tv_sec++;
            d->at.tv_nsec -= 1000000000L;
        }
    }
}

/* Time left, for FUTEX_WAIT (relative); false when it is up. */
static bool q_left(const struct q_deadline *d, struct timespec *left)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    left->tv_sec = d->at.tv_sec - now.tv_sec;
    left->tv_nsec = d->at.tv_nsec - now.tv_nsec;
    if (left->tv_nsec < 0) {
        left->tv_sec--;
        left->tv_nsec += 1000000000L;
    }
    return left->tv_sec >= 0;
}

static int q_lock(struct hmk_queue *h, pthread_mutex_t *m, const struct q_deadline *d)
{
    int e;

    if (d->timeout_ms == 0)
        e = pthread_mutex_trylock(m);
    else if (d->timeout_ms < 0)
        e = pthread_mutex_lock(m);
    else
        e = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &d->at);
    if (e == EBUSY)
        return -EAGAIN;
    if (e == EOWNERDEAD) {
        atomic_fetch_add(&h->q->recoveries, 1);
        return 1; /* the caller repairs, then marks it consistent */
    }
    return -e;
}

/* Sleeps on *word while cond still holds, registered in *waiters. */
static int q_wait(_Atomic uint32_t *word, _Atomic uint32_t *waiters, uint32_t seen,
                  const struct q_deadline *d)
{
    struct timespec left, *tsp = NULL;
    int ret = 0;

    if (d->timeout_ms == 0)
        return -EAGAIN;
    if (d->timeout_ms > 0) {
        if (!q_left(d, &left))
            return -ETIMEDOUT;
        tsp = &left;
    }
    atomic_fetch_add(waiters, 1);
    if (atomic_load(word) == seen &&
        syscall(SYS_futex, word, FUTEX_WAIT, seen, tsp, NULL, 0) < 0 && errno != EAGAIN)
        ret = errno == ETIMEDOUT ? -ETIMEDOUT : -errno;
    atomic_fetch_sub(waiters, 1);
    return ret;
}

static void q_wake(_Atomic uint32_t *word, _Atomic uint32_t *waiters)
{
    atomic_fetch_add(word, 1);
    if (atomic_load(waiters))
        syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* ---- send and receive --------------------------------------------------- */

int hmk_queue_send(hmk_queue *h, const void *msg, size_t len, int timeout_ms)
{
    struct q_shm *q = h->q;
    struct q_deadline d;
    struct q_slot *slot;
    uint64_t t;
    int ret;

    if (!h->may_send)
        return -EPERM;
    if (len > h->msg_size)
        return -EMSGSIZE;
    q_deadline_init(&d, timeout_ms);
    ret = q_lock(h, &q->send.lock, &d);
    if (ret < 0)
        return ret;
    t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    if (ret == 1) {
        /* a sender died holding the lock: if it had published its slot,
         * finish its send; otherwise its half-written slot is simply reused */
        if (atomic_load_explicit(&q_at(h, t)->seq, memory_order_acquire) == t + 1) {
            atomic_store_explicit(&q->tail, ++t, memory_order_release);
            q_wake(&q->items, &q->recv_waiters);
        }
        pthread_mutex_consistent(&q->send.lock);
    }
    for (;;) {
        uint32_t seen = atomic_load(&q->space);
        if (t - atomic_load_explicit(&q->head, memory_order_acquire) < h->depth)
            break;
        ret = q_wait(&q->space, &q->send_waiters, seen, &d);
        if (ret < 0 && ret != -EINTR)
            goto out;
    }
    slot = q_at(h, t);
    atomic_store_explicit(&slot->seq, 0, memory_order_relaxed);
    slot->len = (uint32_t)len;
    memcpy(slot->data, msg, len);
    atomic_store_explicit(&slot->seq, t + 1, memory_order_release);
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    atomic_fetch_add(&q->sent, 1);
    q_wake(&q->items, &q->recv_waiters);
    ret = 0;
out:
    pthread_mutex_unlock(&q->send.lock);
    return ret;
}

int hmk_queue_recv(hmk_queue *h, void *buf, size_t len, int timeout_ms)
{
    struct q_shm *q = h->q;
    struct q_deadline d;
    struct q_slot *slot;
    uint32_t mlen;
    uint64_t p;
    int ret;

    if (!h->may_recv)
        return -EPERM;
    q_deadline_init(&d, timeout_ms);
    ret = q_lock(h, &q->recv.lock, &d);
    if (ret < 0)
        return ret;
    if (ret == 1)
        pthread_mutex_consistent(&q->recv.lock); /* head never moved: redeliver */
    p = atomic_load_explicit(&q->head, memory_order_relaxed);
    for (;;) {
        uint32_t seen = atomic_load(&q->items);
        if (atomic_load_explicit(&q->tail, memory_order_acquire) != p)
            break;
        ret = q_wait(&q->items, &q->recv_waiters, seen, &d);
        if (ret < 0 && ret != -EINTR)
            goto out;
    }
    slot = q_at(h, p);
    /* the length once: a peer rewriting it after the check must not make
     * us copy more than we checked */
    mlen = *(volatile uint32_t *)&slot->len;
    if (atomic_load_explicit(&slot->seq, memory_order_acquire) != p + 1 || mlen > h->msg_size) {
        ret = -EBADMSG;
        goto out;
    }
    if (mlen > len) {
        ret = -EMSGSIZE;
        goto out;
    }
    memcpy(buf, slot->data, mlen);
    ret = (int)mlen;
    atomic_store_explicit(&q->head, p + 1, memory_order_release);
    atomic_fetch_add(&q->received, 1);
    q_wake(&q->space, &q->send_waiters);
out:
    pthread_mutex_unlock(&q->recv.lock);
    return ret;
}
