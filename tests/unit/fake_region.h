/*
 * fake_region.h - unit-test fixture that plays the bridge's part without HAL.
 *
 * fake_region_create() builds what the bridge's rtapi_app_main builds (see
 * also tests/daemon/hmk-test-region.c): the public region /dev/shm/<name>
 * (mode 0644, created under a temporary name and renamed into place, filled
 * by hmk_region.h's initialisers as the bridge's is), a sealed memfd control
 * block and FAKE_CHANNELS sealed memfd write channels, with their descriptor
 * numbers and inodes in the header (rtapi_pid = this process, so root's
 * pidfd_getfd path finds them here). It points $HMK_CHANNEL_FD at channel 0
 * (the tools channel: every out pin granted), so a handle's first write
 * finds a channel the way a service the daemon started does;
 * fake_use_channel() picks another.
 *
 * The fake_bridge_* helpers do what the bridge's realtime functions do,
 * with the bridge's own merge code (bridge/hmk_merge.c, compiled in):
 * write in values under the in seqlock; run one write cycle (merge every
 * granted channel, publish the applied out values under the in seqlock,
 * add 2 to the change word when something changed); set a channel's grant
 * as the daemon does (hmk_cap_grant's seqlock); detach.
 *
 * Every /dev/shm object created is recorded and unlinked by
 * fake_region_destroy(), and again by an atexit handler, so a failed test
 * leaves nothing in /dev/shm. Header-only so each test is one .c file.
 */
#ifndef FAKE_REGION_H
#define FAKE_REGION_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

#include "../../bridge/hmk_merge.c"

#define FAKE_MAX_OBJECTS 64
#define FAKE_CHANNELS    3u /* 0: tools (every out pin), 1 and 2: services */

/* the bridge's private state: its own pin table and the merge */
struct fake_bridge {
    struct hmk_merge m;
    struct hmk_pin_desc pin[HMK_MAX_PINS];
    uint64_t cycle;
};

struct fake_region {
    char name[64];               /* region name as hmk_open takes it */
    char path[128];              /* /dev/shm/<name> */
    struct hmk_shm *shm;         /* read-write mapping (the bridge's) */
    struct hmk_ctl *ctl;
    struct hmk_chan *chan[FAKE_CHANNELS];
    int region_fd, ctl_fd;
    int chan_fd[FAKE_CHANNELS];
    unsigned npins;
    struct fake_bridge *b;
};

static char fake_objects[FAKE_MAX_OBJECTS][256];
static int fake_atexit_done;
static unsigned fake_seq;

static inline void fake_cleanup_all(void)
{
    for (int i = 0; i < FAKE_MAX_OBJECTS; i++)
        if (fake_objects[i][0]) {
            unlink(fake_objects[i]);
            fake_objects[i][0] = '\0';
        }
}

static inline void fake_track(const char *path)
{
    if (!fake_atexit_done) {
        atexit(fake_cleanup_all);
        fake_atexit_done = 1;
    }
    for (int i = 0; i < FAKE_MAX_OBJECTS; i++)
        if (strcmp(fake_objects[i], path) == 0)
            return;
    for (int i = 0; i < FAKE_MAX_OBJECTS; i++)
        if (!fake_objects[i][0]) {
            snprintf(fake_objects[i], sizeof(fake_objects[i]), "%s", path);
            return;
        }
}

static inline void fake_untrack(const char *path)
{
    for (int i = 0; i < FAKE_MAX_OBJECTS; i++)
        if (strcmp(fake_objects[i], path) == 0)
            fake_objects[i][0] = '\0';
}

/* A unique region name for this process. */
static inline void fake_region_name(char *buf, size_t len)
{
    snprintf(buf, len, "hmk-test-%ld-%u", (long)getpid(), fake_seq++);
}

static inline void fake_pin(struct hmk_pin_desc *p, const char *name, uint8_t type,
                            uint8_t dir, uint8_t flags)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->type = type;
    p->dir = dir;
    p->flags = flags;
}

/* n seed slots pin.0 .. pin.<n-1> of the given type (the bridge's default
 * layout is 16 of HMK_RT_FLOAT). */
static inline void fake_slots(struct hmk_pin_desc *pins, unsigned n, uint8_t type)
{
    char name[HMK_NAME_MAX];
    for (unsigned i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "pin.%u", i);
        fake_pin(&pins[i], name, type, HMK_RD_IO, HMK_PIN_SLOT);
    }
}

/* A zeroed /dev/shm object of `size` bytes at `path`, mapped read-write
 * (tracked for cleanup). NULL with *err = -errno on failure. */
static inline void *fake_make_object(const char *path, size_t size, int *err)
{
    void *map;
    int fd, r;

    unlink(path);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        *err = -errno;
        return NULL;
    }
    fake_track(path);
    r = posix_fallocate(fd, 0, (off_t)size);
    if (r != 0) {
        close(fd);
        *err = -r;
        return NULL;
    }
    map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        *err = -errno;
        return NULL;
    }
    memset(map, 0, size);
    return map;
}

static inline uint64_t fake_ino(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* A memfd of `size` bytes, sealed with `seals` (0: none), mapped. */
static inline void *fake_memfd(const char *what, size_t size, int seals, int *fd_out)
{
    int fd = memfd_create(what, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    void *map;

    if (fd < 0)
        return NULL;
    if (ftruncate(fd, (off_t)size) < 0 || (seals && fcntl(fd, F_ADD_SEALS, seals) < 0)) {
        close(fd);
        return NULL;
    }
    map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        close(fd);
        return NULL;
    }
    *fd_out = fd;
    return map;
}

#define FAKE_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/* $HMK_CHANNEL_FD -> channel k, as the daemon sets it for a service. */
static inline void fake_use_channel(const struct fake_region *f, unsigned k)
{
    char buf[16];
    snprintf(buf, sizeof(buf), "%d", f->chan_fd[k]);
    setenv("HMK_CHANNEL_FD", buf, 1);
    /* no daemon for libhalmk to ask for a channel: never the machine's own */
    setenv("HMK_CONTROL_SOCKET", "/nonexistent/hmk-unit-test-control", 1);
}

static inline int fake_capabilities(struct fake_region *f, uint64_t gen)
{
    struct hmk_region_header *h = &f->shm->hdr;

    f->ctl = fake_memfd("hmk-test-ctl", sizeof(struct hmk_ctl), FAKE_SEALS, &f->ctl_fd);
    if (!f->ctl)
        return -errno;
    hmk_ctl_init(f->ctl, FAKE_CHANNELS, gen);
    h->rtapi_pid = (int32_t)getpid();
    h->region_fd = f->region_fd;
    h->region_ino = fake_ino(f->region_fd);
    h->ctl_fd = f->ctl_fd;
    h->ctl_ino = fake_ino(f->ctl_fd);
    for (unsigned k = 0; k < FAKE_CHANNELS; k++) {
        struct hmk_chan *c = fake_memfd("hmk-test-channel", sizeof(struct hmk_chan), FAKE_SEALS,
                                        &f->chan_fd[k]);
        if (!c)
            return -errno;
        hmk_chan_init(c, k, gen);
        h->chan_fd[k] = f->chan_fd[k];
        h->chan_ino[k] = fake_ino(f->chan_fd[k]);
        f->chan[k] = c;
    }
    return 0;
}

/* The bridge's merge over the bridge's own copy of the pin table. */
static inline int fake_bridge_init(struct fake_region *f, const struct hmk_pin_desc *pins,
                                   unsigned n)
{
    struct fake_bridge *b = calloc(1, sizeof(*b));

    if (!b)
        return -ENOMEM;
    memcpy(b->pin, pins, n * sizeof(pins[0]));
    b->m.nchan = FAKE_CHANNELS;
    b->m.pin = b->pin;
    b->m.h = &f->shm->hdr;
    b->m.ctl = f->ctl;
    for (unsigned k = 0; k < FAKE_CHANNELS; k++)
        b->m.chan[k] = f->chan[k];
    hmk_merge_init(&b->m, n);
    f->b = b;
    return 0;
}

static inline void fake_region_destroy(struct fake_region *f);

/* Returns 0 or -errno. `prefix` NULL means HMK_DEFAULT_PREFIX. */
static inline int fake_region_create(struct fake_region *f, const struct hmk_pin_desc *pins,
                                     unsigned n, const char *prefix)
{
    struct hmk_region_header *h;
    struct timespec ts;
    char tmp[200];
    uint64_t gen;
    int err;

    memset(f, 0, sizeof(*f));
    f->region_fd = f->ctl_fd = -1;
    for (unsigned k = 0; k < FAKE_CHANNELS; k++)
        f->chan_fd[k] = -1;
    f->npins = n;
    fake_region_name(f->name, sizeof(f->name));
    snprintf(f->path, sizeof(f->path), "/dev/shm/%s", f->name);
    snprintf(tmp, sizeof(tmp), "/dev/shm/.%s.%ld", f->name, (long)getpid());
    unlink(tmp);
    f->region_fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (f->region_fd < 0)
        return -errno;
    fake_track(tmp);
    err = posix_fallocate(f->region_fd, 0, (off_t)sizeof(struct hmk_shm));
    if (err != 0) {
        err = -err;
        goto fail;
    }
    f->shm = mmap(NULL, sizeof(struct hmk_shm), PROT_READ | PROT_WRITE, MAP_SHARED,
                  f->region_fd, 0);
    if (f->shm == MAP_FAILED) {
        f->shm = NULL;
        err = -errno;
        goto fail;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gen = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + fake_seq;

    h = &f->shm->hdr;
    memcpy(f->shm->pin, pins, n * sizeof(pins[0]));
    hmk_region_header_init(f->shm, n, FAKE_CHANNELS, gen, prefix ? prefix : HMK_DEFAULT_PREFIX,
                           500);
    err = fake_capabilities(f, gen);
    if (err == 0)
        err = fake_bridge_init(f, pins, n);
    if (err < 0)
        goto fail;
    hmk_region_publish(h);
    fake_track(f->path);
    if (rename(tmp, f->path) < 0) {
        err = -errno;
        goto fail;
    }
    fake_untrack(tmp);
    fake_use_channel(f, 0);
    return 0;
fail:
    unlink(tmp);
    fake_untrack(tmp);
    f->path[0] = '\0';
    fake_region_destroy(f);
    return err ? err : -EIO;
}

/* The default seed layout: 16 float slots. */
static inline int fake_region_create_default(struct fake_region *f)
{
    struct hmk_pin_desc pins[16];
    fake_slots(pins, 16, HMK_RT_FLOAT);
    return fake_region_create(f, pins, 16, NULL);
}

static inline void fake_region_destroy(struct fake_region *f)
{
    if (!f)
        return;
    if (f->shm)
        munmap(f->shm, sizeof(struct hmk_shm));
    if (f->ctl)
        munmap(f->ctl, sizeof(struct hmk_ctl));
    for (unsigned k = 0; k < FAKE_CHANNELS; k++) {
        if (f->chan[k])
            munmap(f->chan[k], sizeof(struct hmk_chan));
        if (f->chan_fd[k] >= 0)
            close(f->chan_fd[k]);
        f->chan[k] = NULL;
        f->chan_fd[k] = -1;
    }
    if (f->ctl_fd >= 0)
        close(f->ctl_fd);
    if (f->region_fd >= 0)
        close(f->region_fd);
    free(f->b);
    f->b = NULL;
    f->shm = NULL;
    f->ctl = NULL;
    f->ctl_fd = f->region_fd = -1;
    if (f->path[0]) {
        unlink(f->path);
        fake_untrack(f->path);
    }
    unsetenv("HMK_CHANNEL_FD");
}

/* ---- the bridge's roles ------------------------------------------------ */

/* bridge_read: one consistent snapshot of in values [0, n) for `cycle`. */
static inline void fake_bridge_write_in(struct hmk_shm *shm, const uint64_t *vals, unsigned n,
                                        uint64_t cycle)
{
    uint64_t s = hmk_in_write_begin(&shm->in);
    for (unsigned i = 0; i < n; i++)
        atomic_store_explicit(&shm->in.value[i], vals[i], memory_order_relaxed);
    atomic_store_explicit(&shm->in.cycle, cycle, memory_order_relaxed);
    hmk_in_write_end(&shm->in, s);
}

/* The bounded latch read of one channel's out values [0, n), as the merge
 * does it. Returns the retries it needed (0..HMK_LATCH_RETRIES-1), or
 * -EAGAIN when it hit HMK_LATCH_RETRIES. */
static inline int fake_read_latch(const struct hmk_chan *c, uint64_t *vals, unsigned n)
{
    const struct hmk_out_block *b = &c->out;

    for (unsigned tries = 0; tries < HMK_LATCH_RETRIES; tries++) {
        uint64_t s = hmk_out_read_begin(b);
        const struct hmk_out_copy *cp = &b->copy[s & 1u];
        for (unsigned i = 0; i < n; i++)
            vals[i] = atomic_load_explicit(&cp->value[i], memory_order_relaxed);
        if (!hmk_out_read_retry(b, s))
            return (int)tries;
    }
    return -EAGAIN;
}

/* Change word: +2, as hmk_change_publish (no daemon here: no relay wake;
 * readers see it within their 10 ms slice). */
static inline void fake_bridge_publish(struct fake_region *f)
{
    hmk_change_publish(&f->shm->hdr, f->ctl, 0);
}

/* One write cycle of the bridge: merge every granted channel, publish the
 * applied out values (in.out_value, under the in seqlock) and, when one
 * changed, the change word. Returns hmk_merge_all's verdict (false: a
 * channel missed its latch this cycle). */
static inline bool fake_bridge_cycle(struct fake_region *f)
{
    struct hmk_merge *m = &f->b->m;
    bool ok = hmk_merge_all(m), changed = m->out_dirty;
    uint64_t s;

    m->out_dirty = false;
    s = hmk_in_write_begin(&f->shm->in);
    for (unsigned j = 0; j < m->n_out; j++)
        atomic_store_explicit(&f->shm->in.out_value[m->out_idx[j]], m->latched[m->out_idx[j]],
                              memory_order_relaxed);
    hmk_in_write_end(&f->shm->in, s);
    f->b->cycle++;
    atomic_store_explicit(&f->shm->hdr.bridge_cycle, f->b->cycle, memory_order_release);
    atomic_fetch_add_explicit(&f->shm->hdr.cycles, 1, memory_order_relaxed);
    if (changed)
        fake_bridge_publish(f);
    return ok;
}

/* The daemon's hmk_cap_grant: channel k's grant, under the grant seqlock. */
static inline void fake_grant(struct fake_region *f, unsigned k, const uint64_t *bits)
{
    uint64_t s = atomic_load_explicit(&f->ctl->grant_seq, memory_order_relaxed);

    atomic_store_explicit(&f->ctl->grant_seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (unsigned w = 0; w < HMK_GRANT_WORDS; w++)
        atomic_store_explicit(&f->ctl->grant[k][w], bits ? bits[w] : 0, memory_order_relaxed);
    atomic_store_explicit(&f->ctl->grant_seq, s + 2, memory_order_release);
}

/* A grant of a list of pins, terminated by -1. */
static inline void fake_grant_pins(struct fake_region *f, unsigned k, const int *pins)
{
    uint64_t bits[HMK_GRANT_WORDS] = { 0 };
    for (; *pins >= 0; pins++)
        bits[*pins / 64] |= 1ull << (*pins % 64);
    fake_grant(f, k, bits);
}

/* rtapi_app_exit: detached, then wake every waiter. */
static inline void fake_bridge_detach(struct fake_region *f)
{
    atomic_store_explicit(&f->shm->hdr.state, HMK_STATE_DETACHED, memory_order_release);
    atomic_fetch_add_explicit(&f->shm->hdr.change_word, 2, memory_order_seq_cst);
    syscall(SYS_futex, &f->shm->hdr.change_word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static inline uint64_t fake_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline pid_t fake_gettid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* Whether thread `tid` of this process is blocked in a futex system call
 * (/proc/self/task/<tid>/syscall starts with the syscall number): how a
 * test knows a waiter really sleeps, instead of sleeping and hoping. */
static inline int fake_in_futex(pid_t tid)
{
    char path[64], buf[64];
    long nr = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/self/task/%ld/syscall", (long)tid);
    f = fopen(path, "re");
    if (!f)
        return 0;
    if (fgets(buf, sizeof(buf), f))
        nr = strtol(buf, NULL, 10);
    fclose(f);
    return nr == SYS_futex;
}

/* Waits (deadline `ms`) until thread tid sleeps in a futex; 1 if it did. */
static inline int fake_wait_in_futex(pid_t tid, unsigned ms)
{
    uint64_t end = fake_now_ns() + (uint64_t)ms * 1000000ull;
    struct timespec t = { 0, 1000000 };

    while (!fake_in_futex(tid) && fake_now_ns() < end)
        nanosleep(&t, NULL);
    return fake_in_futex(tid);
}

/* splitmix64: seeded, reproducible test data */
static inline uint64_t fake_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif /* FAKE_REGION_H */
