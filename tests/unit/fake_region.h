/*
 * fake_region.h - unit-test fixture that plays the bridge's part without HAL.
 *
 * fake_region_create() builds a region exactly as bridge/hal_microkernel_bridge.c
 * (make_region/init_region) does: a zeroed struct hmk_shm sized with
 * posix_fallocate, header fields, pin table, layout hash, a process-shared
 * robust PI mutex, the magic last, state ATTACHED, and its ".waiters"
 * companion object; both are built under temporary names and renamed into
 * place. Names are unique per process: "hmk-test-<pid>-<n>".
 *
 * The fake_bridge_* helpers do what the bridge's realtime functions do:
 * write in values under the in seqlock, read out values with the bounded
 * latch read (HMK_LATCH_RETRIES tries), and publish a change.
 *
 * Every object created is recorded and unlinked by fake_region_destroy(),
 * and again by an atexit handler, so a failed test leaves nothing in
 * /dev/shm. Header-only (static inline) so each test is one .c file.
 */
#ifndef FAKE_REGION_H
#define FAKE_REGION_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hmk_region.h"

#define FAKE_MAX_OBJECTS 64

struct fake_region {
    char name[64];               /* region name as hmk_open takes it */
    char path[128];              /* /dev/shm/<name> */
    char wpath[160];             /* /dev/shm/<name>.waiters */
    struct hmk_shm *shm;         /* read-write mapping */
    struct hmk_waiters *w;
};

/* paths still to unlink at exit (a test that fails skips its own cleanup
 * only if it crashed; cmocka still runs teardowns after failed asserts) */
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

static inline void *fake_make_object(const char *tmp, size_t size, int *err)
{
    void *map;
    int fd, r;

    unlink(tmp);
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        *err = -errno;
        return NULL;
    }
    fake_track(tmp);
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


/* Returns 0 or -errno. `prefix` NULL means HMK_DEFAULT_PREFIX. */
static inline int fake_region_create(struct fake_region *f, const struct hmk_pin_desc *pins,
                                     unsigned n, const char *prefix)
{
    char tmp[200], wtmp[200];
    struct hmk_region_header *h;
    struct timespec ts;
    void *map, *wmap;
    int err = 0;

    memset(f, 0, sizeof(*f));
    fake_region_name(f->name, sizeof(f->name));
    snprintf(f->path, sizeof(f->path), "/dev/shm/%s", f->name);
    snprintf(f->wpath, sizeof(f->wpath), "%s%s", f->path, HMK_WAITERS_SUFFIX);
    snprintf(tmp, sizeof(tmp), "/dev/shm/.%s.%ld", f->name, (long)getpid());
    snprintf(wtmp, sizeof(wtmp), "/dev/shm/.%s%s.%ld", f->name, HMK_WAITERS_SUFFIX,
             (long)getpid());
    map = fake_make_object(tmp, sizeof(struct hmk_shm), &err);
    if (!map)
        goto fail;
    wmap = fake_make_object(wtmp, HMK_WAITERS_SIZE, &err);
    if (!wmap) {
        munmap(map, sizeof(struct hmk_shm));
        goto fail;
    }
    f->shm = map;
    f->w = wmap;
    clock_gettime(CLOCK_REALTIME, &ts);
    f->w->magic = HMK_WAITERS_MAGIC;
    f->w->generation = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;

    /* init_region */
    h = &f->shm->hdr;
    memcpy(f->shm->pin, pins, n * sizeof(pins[0]));
    h->abi_version = HMK_ABI_VERSION;
    h->header_size = sizeof(*h);
    h->pin_desc_size = sizeof(struct hmk_pin_desc);
    h->region_size = sizeof(struct hmk_shm);
    h->pin_count = n;
    h->max_pins = HMK_MAX_PINS;
    h->heartbeat_timeout_ms = 500;
    h->layout_hash = hmk_layout_hash(f->shm->pin, n);
    h->generation = f->w->generation;
    snprintf(h->hal_prefix, sizeof(h->hal_prefix), "%s", prefix ? prefix : HMK_DEFAULT_PREFIX);
    hmk_mutex_init_shared(&f->shm->out.lock);
    h->magic = HMK_REGION_MAGIC;
    atomic_store_explicit(&h->state, HMK_STATE_ATTACHED, memory_order_release);

    fake_track(f->wpath);
    fake_track(f->path);
    if (rename(wtmp, f->wpath) < 0 || rename(tmp, f->path) < 0) {
        err = -errno;
        munmap(f->shm, sizeof(struct hmk_shm));
        munmap(f->w, HMK_WAITERS_SIZE);
        f->shm = NULL;
        f->w = NULL;
        goto fail;
    }
    fake_untrack(tmp);
    fake_untrack(wtmp);
    return 0;
fail:
    unlink(tmp);
    unlink(wtmp);
    fake_untrack(tmp);
    fake_untrack(wtmp);
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
    if (f->w)
        munmap(f->w, HMK_WAITERS_SIZE);
    f->shm = NULL;
    f->w = NULL;
    if (f->path[0]) {
        unlink(f->path);
        unlink(f->wpath);
        fake_untrack(f->path);
        fake_untrack(f->wpath);
    }
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

/* bridge_write: the bounded latch read of out values [0, n). Returns the
 * number of retries it needed (0..HMK_LATCH_RETRIES-1), or -EAGAIN when it
 * hit HMK_LATCH_RETRIES (the bridge would keep last cycle's values). */
static inline int fake_bridge_read_out(const struct hmk_shm *shm, uint64_t *vals, unsigned n)
{
    const struct hmk_out_block *b = &shm->out;

    for (unsigned tries = 0; tries < HMK_LATCH_RETRIES; tries++) {
        uint64_t s = hmk_out_read_begin(b);
        const struct hmk_out_copy *c = &b->copy[s & 1u];
        for (unsigned i = 0; i < n; i++)
            vals[i] = atomic_load_explicit(&c->value[i], memory_order_relaxed);
        if (!hmk_out_read_retry(b, s))
            return (int)tries;
    }
    return -EAGAIN;
}

static inline void fake_bridge_publish(struct fake_region *f)
{
    hmk_change_publish(&f->shm->hdr, f->w);
}

/* rtapi_app_exit: detached, then wake every waiter. */
static inline void fake_bridge_detach(struct fake_region *f)
{
    atomic_store_explicit(&f->shm->hdr.state, HMK_STATE_DETACHED, memory_order_release);
    hmk_change_publish(&f->shm->hdr, f->w);
}

static inline uint64_t fake_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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
