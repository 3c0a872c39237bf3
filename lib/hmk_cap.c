/*
 * hmk_cap.c - how a process comes to hold a write channel, and the daemon's
 * control block and relay. Contracts: include/halmk_priv.h (daemon side)
 * and include/halmk.h (hmk_open: writes).
 *
 * A channel comes, in this order of preference, from
 *   1. $HMK_CHANNEL_FD: a descriptor the daemon left open for a service it
 *      started (the service's own channel, granted its `writes =` pins);
 *   2. rtapi_app itself, for root (pidfd_getfd): the tools channel 0;
 *   3. the daemon's control socket ($HMK_CONTROL_SOCKET, else the default
 *      one): the tools channel, for a member of its writer-group;
 * and otherwise not at all: writing then needs the daemon or root.
 * Whatever the descriptor, it must be the inode the region header names for
 * a channel, be exactly a channel's size and carry the bridge's seals.
 */
#include "halmk_int.h"
#include "halmk_priv.h"
#include "hmk_ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

_Static_assert(HMK_GRANT_WORDS_PUB == HMK_GRANT_WORDS, "grant words");

/* fd must be the object the header names by inode (ino), sized `size`,
 * sealed against resizing. */
static int hmk_fd_check(int fd, uint64_t ino, size_t size)
{
    struct stat st;
    int seals;

    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_ino != ino || (uint64_t)st.st_size != size)
        return -ESTALE;
    seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || (seals & HMK_SEALS_REQUIRED) != HMK_SEALS_REQUIRED)
        return -ESTALE;
    return 0;
}

/* A copy of descriptor `num` of rtapi_app, which must be inode `ino`. */
static int hmk_take_fd(const hmk_region *r, int num, uint64_t ino, size_t size)
{
    int pidfd, fd, ret;

    if (r->hdr.rtapi_pid <= 0 || num < 0)
        return -ENODEV;
    pidfd = (int)syscall(SYS_pidfd_open, (pid_t)r->hdr.rtapi_pid, 0);
    if (pidfd < 0 && errno != ENOSYS)
        return errno == ESRCH ? -ESTALE : -errno;
    fd = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, num, 0); /* O_CLOEXEC */
    ret = fd < 0 ? -errno : 0;
    if (pidfd >= 0)
        close(pidfd);
    if (pidfd < 0 || ret == -ENOSYS) {
        /* no pidfd_getfd (a kernel before 5.6, or valgrind): the same
         * object through /proc, under the same ptrace access check */
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)r->hdr.rtapi_pid, num);
        fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
        ret = fd < 0 ? (errno == ENOENT ? -ESTALE : -errno) : 0;
        if (ret == -EACCES)
            ret = -EPERM;
    }
    if (ret < 0)
        return ret == -ESRCH || ret == -EBADF ? -ESTALE : ret;
    if (size == 0) { /* the public region: not sealed, checked by inode only */
        struct stat st;
        if (fstat(fd, &st) < 0 || (uint64_t)st.st_ino != ino)
            ret = -ESTALE;
    } else {
        ret = hmk_fd_check(fd, ino, size);
    }
    if (ret < 0) {
        close(fd);
        return ret;
    }
    return fd;
}

/* Which channel an inode is, or -1. */
static int hmk_chan_index(const hmk_region *r, uint64_t ino)
{
    for (unsigned k = 0; k < r->hdr.channels && k < HMK_MAX_CHANNELS; k++)
        if (r->hdr.chan_ino[k] == ino)
            return (int)k;
    return -1;
}

static int hmk_chan_from_env(const hmk_region *r)
{
    const char *env = getenv("HMK_CHANNEL_FD");
    struct stat st;
    char *end;
    long n;
    int fd;

    if (!env)
        return -ENOENT;
    n = strtol(env, &end, 10);
    if (*env == '\0' || *end || n < 0 || n > INT_MAX)
        return -EBADF;
    if (fstat((int)n, &st) < 0)
        return -EBADF;
    /* a channel of an earlier bridge: the daemon restarts us with a new one */
    if (hmk_chan_index(r, (uint64_t)st.st_ino) < 0)
        return -ESTALE;
    if (hmk_fd_check((int)n, (uint64_t)st.st_ino, sizeof(struct hmk_chan)) < 0)
        return -ESTALE;
    /* our own descriptor: the inherited one stays for the next hmk_open */
    fd = fcntl((int)n, F_DUPFD_CLOEXEC, 3);
    return fd < 0 ? -errno : fd;
}

/* The reply to "channel": "ok" with a descriptor, or "error\t...". */
static int hmk_chan_recv(int s)
{
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    char line[256];
    struct iovec iov = { line, sizeof(line) - 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof(u.buf) };
    struct cmsghdr *cm;
    ssize_t n = recvmsg(s, &m, MSG_CMSG_CLOEXEC);
    int fd = -1;

    if (n <= 0)
        return -ECONNRESET;
    for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
            cm->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&fd, CMSG_DATA(cm), sizeof(int));
    line[n] = '\0';
    if (strncmp(line, "ok\n", 3) == 0 && fd >= 0)
        return fd;
    if (fd >= 0)
        close(fd);
    /* the daemon has not attached the (new) region yet: worth a retry */
    return strstr(line, "no region attached") ? -EAGAIN : -ENOKEY;
}

/* Asks the daemon for a channel: a service's own (the daemon knows its
 * pid), else the tools channel for its writer-group. -ENOKEY if it says
 * no or is not there, -EAGAIN if it has not attached this region yet. The
 * descriptor is checked like any other, against the header. */
static int hmk_chan_ask_daemon(const hmk_region *r)
{
    const char *path = getenv("HMK_CONTROL_SOCKET");
    struct timeval tv = { 5, 0 };
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int s, fd;

    if (!path || !*path)
        path = HMK_CTL_DEFAULT_SOCKET;
    if (strlen(path) >= sizeof(a.sun_path))
        return -EACCES;
    strcpy(a.sun_path, path);
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
        connect(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        send(s, "channel\n", 8, MSG_NOSIGNAL) != 8) {
        close(s);
        return -ENOKEY;
    }
    fd = hmk_chan_recv(s);
    close(s);
    if (fd < 0)
        return fd;
    {
        struct stat st;
        if (fstat(fd, &st) < 0 || hmk_chan_index(r, (uint64_t)st.st_ino) < 0 ||
            hmk_fd_check(fd, (uint64_t)st.st_ino, sizeof(struct hmk_chan)) < 0) {
            close(fd);
            return -EAGAIN; /* the daemon still holds the old bridge's */
        }
    }
    return fd;
}

/* The daemon attaches a new region within milliseconds of its creation:
 * a service that re-attached first waits up to a second for it. */
static int hmk_chan_from_daemon(const hmk_region *r)
{
    const struct timespec pause = { 0, 20000000L };
    int fd = -EAGAIN;

    for (int i = 0; i < 50 && fd == -EAGAIN; i++) {
        if (i)
            nanosleep(&pause, NULL);
        fd = hmk_chan_ask_daemon(r);
    }
    return fd == -EAGAIN ? -ENOKEY : fd;
}

static int64_t hmk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A refusal is remembered for HMK_REFUSAL_MS: a process that keeps writing
 * without a channel does not ask the daemon (and fill its log) each time. */
#define HMK_REFUSAL_MS 1000

int hmk_chan_get(hmk_region *r)
{
    struct hmk_chan *c;
    int fd;

    if (r->chan)
        return 0;
    if (r->chan_err == -EBADF ||
        (r->chan_err && hmk_now_ms() - r->chan_err_ms < HMK_REFUSAL_MS))
        return r->chan_err;
    fd = hmk_chan_from_env(r);
    if (fd == -ENOENT && geteuid() == 0)
        fd = hmk_take_fd(r, r->hdr.chan_fd[0], r->hdr.chan_ino[0], sizeof(struct hmk_chan));
    /* -ESTALE: inherited from an earlier bridge; the daemon has the new one */
    if (fd == -ENOENT || fd == -EPERM || fd == -ESTALE)
        fd = hmk_chan_from_daemon(r);
    if (fd < 0) {
        /* a bad $HMK_CHANNEL_FD stays bad; a refusal is asked again later */
        if (fd == -EBADF || fd == -ENOKEY) {
            r->chan_err = fd;
            r->chan_err_ms = hmk_now_ms();
        }
        return fd;
    }
    r->chan_err = 0;
    c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (c == MAP_FAILED)
        return -errno;
    /* no look at c->magic: the channel's identity is its inode, which the
     * bridge published; what is inside may be an earlier holder's mess */
    r->chan = c;
    return 0;
}

void hmk_cap_release(hmk_region *r)
{
    if (r->chan)
        munmap(r->chan, sizeof(*r->chan));
    if (r->ctl)
        munmap(r->ctl, sizeof(*r->ctl));
    if (r->wshm)
        munmap(r->wshm, r->size);
    if (r->poke_fd >= 0)
        close(r->poke_fd);
    r->chan = NULL;
    r->ctl = NULL;
    r->wshm = NULL;
    r->poke_fd = -1;
}

/* ---- the daemon's side ------------------------------------------------- */

int hmk_cap_attach(hmk_region *r)
{
    void *ctl, *w;
    int fd;

    if (r->ctl)
        return 0;
    fd = hmk_take_fd(r, r->hdr.ctl_fd, r->hdr.ctl_ino, sizeof(struct hmk_ctl));
    if (fd < 0)
        return fd;
    ctl = mmap(NULL, sizeof(struct hmk_ctl), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (ctl == MAP_FAILED)
        return -errno;
    fd = hmk_take_fd(r, r->hdr.region_fd, r->hdr.region_ino, 0);
    if (fd < 0) {
        munmap(ctl, sizeof(struct hmk_ctl));
        return fd;
    }
    w = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (w == MAP_FAILED) {
        munmap(ctl, sizeof(struct hmk_ctl));
        return -errno;
    }
    if (((struct hmk_ctl *)ctl)->magic != HMK_CTL_MAGIC ||
        ((struct hmk_ctl *)ctl)->generation != r->generation) {
        munmap(ctl, sizeof(struct hmk_ctl));
        munmap(w, r->size);
        return -ESTALE;
    }
    r->ctl = ctl;
    r->wshm = w;
    return 0;
}

int hmk_heartbeat(hmk_region *r)
{
    struct timespec ts;

    if (!r->ctl)
        return -EPERM;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        return -errno;
    atomic_store_explicit(&r->ctl->daemon_pid, (uint32_t)getpid(), memory_order_relaxed);
    atomic_store_explicit(&r->ctl->heartbeat_ns,
                          (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec,
                          memory_order_release);
    return hmk_check(r);
}

/* The calling thread's robust list: this one word, nothing else. Per
 * thread, and alive as long as the thread is (the kernel reads it as the
 * thread exits). */
static __thread struct robust_list_head alive_head;
static __thread struct robust_list alive_entry;

int hmk_cap_hold_alive(hmk_region *r)
{
    _Atomic uint32_t *w;
    int ret = 0;

    if (!r->ctl)
        return -EPERM;
    w = &r->ctl->alive;
    alive_entry.next = &alive_head.list;
    alive_head.list.next = &alive_entry;
    alive_head.futex_offset = (long)((char *)w - (char *)&alive_entry);
    alive_head.list_op_pending = NULL;
    if (syscall(SYS_set_robust_list, &alive_head, sizeof(alive_head)) < 0)
        ret = -errno; /* still held: then only the heartbeat tells death */
    atomic_store_explicit(w, (uint32_t)syscall(SYS_gettid) & FUTEX_TID_MASK, memory_order_release);
    return ret;
}

int hmk_cap_release_alive(hmk_region *r)
{
    if (!r->ctl)
        return -EPERM;
    atomic_store_explicit(&r->ctl->alive, 0, memory_order_release);
    return 0;
}

unsigned hmk_cap_channels(const hmk_region *r)
{
    return r->ctl ? r->hdr.channels : 0;
}

int hmk_cap_channel_fd(const hmk_region *r, unsigned k)
{
    if (!r->ctl)
        return -EPERM;
    if (k >= r->hdr.channels)
        return -ERANGE;
    return hmk_take_fd(r, r->hdr.chan_fd[k], r->hdr.chan_ino[k], sizeof(struct hmk_chan));
}

int hmk_cap_grant(hmk_region *r, unsigned k, const uint64_t bits[HMK_GRANT_WORDS_PUB])
{
    struct hmk_ctl *c = r->ctl;
    uint64_t s;

    if (!c)
        return -EPERM;
    if (k == 0 || k >= r->hdr.channels)
        return -ERANGE;
    /* one writer (the daemon's main thread): a plain seqlock */
    s = atomic_load_explicit(&c->grant_seq, memory_order_relaxed);
    atomic_store_explicit(&c->grant_seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (unsigned w = 0; w < HMK_GRANT_WORDS; w++)
        atomic_store_explicit(&c->grant[k][w], bits[w], memory_order_relaxed);
    atomic_store_explicit(&c->grant_seq, s + 2, memory_order_release);
    return 0;
}

static long hmk_futex(_Atomic uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
    return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

int hmk_cap_relay_wait(hmk_region *r, uint32_t *seen, int timeout_ms)
{
    struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
    uint32_t cur;

    if (!r->ctl)
        return -EPERM;
    cur = atomic_load_explicit(&r->ctl->relay_word, memory_order_acquire);
    if (cur == *seen &&
        hmk_futex(&r->ctl->relay_word, FUTEX_WAIT, cur, timeout_ms < 0 ? NULL : &ts) < 0 &&
        errno != EAGAIN && errno != EINTR)
        return errno == ETIMEDOUT ? -ETIMEDOUT : -errno;
    cur = atomic_load_explicit(&r->ctl->relay_word, memory_order_acquire);
    if (cur == *seen)
        return -ETIMEDOUT;
    *seen = cur;
    return 0;
}

int hmk_cap_relay_arm(hmk_region *r, bool armed)
{
    if (!r->ctl)
        return -EPERM;
    /* the control block first, so a bridge that sees the bit set wakes us;
     * then the bit readers sleep on, which ends every sleep under way */
    atomic_store_explicit(&r->ctl->relay_armed, armed, memory_order_seq_cst);
    if (armed)
        atomic_fetch_or_explicit(&r->wshm->hdr.change_word, 1u, memory_order_seq_cst);
    else
        atomic_fetch_and_explicit(&r->wshm->hdr.change_word, ~1u, memory_order_seq_cst);
    hmk_futex(&r->wshm->hdr.change_word, FUTEX_WAKE, INT_MAX, NULL);
    return 0;
}

int hmk_cap_relay_kick(hmk_region *r)
{
    if (!r->ctl)
        return -EPERM;
    /* a new value first: a waiter about to sleep then does not */
    atomic_fetch_add_explicit(&r->ctl->relay_word, 1, memory_order_seq_cst);
    hmk_futex(&r->ctl->relay_word, FUTEX_WAKE, INT_MAX, NULL);
    return 0;
}

int hmk_cap_fanout(hmk_region *r)
{
    long n;

    if (!r->wshm)
        return -EPERM;
    n = hmk_futex(&r->wshm->hdr.change_word, FUTEX_WAKE, INT_MAX, NULL);
    return n < 0 ? -errno : (int)n;
}

/* s appended at dst[at], up to cap bytes in all; the new end */
static size_t put_str(char *dst, size_t at, size_t cap, const char *s)
{
    while (*s && at < cap)
        dst[at++] = *s++;
    return at;
}

void hmk_poke_addr(const char *region, struct sockaddr_un *a, socklen_t *len)
{
    /* after the leading NUL, at most what snprintf would have kept */
    const size_t cap = sizeof(a->sun_path) - 2;
    char *p = a->sun_path + 1;
    size_t n;

    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    /* abstract: no file whose permissions or existence anyone must manage.
     * Built by hand, not snprintf: the daemon's relay binds it, and libc's
     * printf is pages the daemon otherwise never keeps mapped (daemon/fmt.h) */
    n = put_str(p, 0, cap, "hal-microkernel/");
    n = put_str(p, n, cap, region);
    n = put_str(p, n, cap, "/relay");
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

void hmk_relay_poke(hmk_region *r)
{
    struct sockaddr_un a;
    socklen_t len;

    if (r->poke_fd < 0)
        r->poke_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (r->poke_fd < 0)
        return;
    hmk_poke_addr(r->name, &a, &len);
    /* best effort: a full socket means the relay has pokes enough already */
    if (sendto(r->poke_fd, "p", 1, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&a, len) < 0) {
        /* nothing to do: the waiter's own time slice bounds its delay */
    }
}
