/*
 * hmk-test-region - plays the bridge's part for the daemon's region tests,
 * without HAL: creates, changes and detaches a region laid out by
 * include/hmk_region.h (the one layout definition), the way the bridge does
 * (built under a temporary name, renamed into place).
 *
 *   hmk-test-region create NAME NPINS   slot pins pin.0 .. pin.N-1 (float, in+out),
 *                                       and the NAME.waiters companion object
 *   hmk-test-region set-in NAME IDX VALUE
 *   hmk-test-region burst NAME ROUNDS MS  ROUNDS rounds, MS apart: pins 1, 2
 *                                       and 3 set to the round number (a burst
 *                                       whose pace does not depend on how long
 *                                       this machine takes to start a process)
 *   hmk-test-region heartbeat NAME      prints "PID NS" of the daemon's heartbeat
 *   hmk-test-region detach NAME         marks it detached and unlinks it
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hmk_region.h"

static struct hmk_shm *map(const char *name, int flags)
{
    char path[256];
    struct hmk_shm *shm;
    int fd;

    snprintf(path, sizeof(path), "/dev/shm/%s", name);
    fd = open(path, O_RDWR | O_CLOEXEC | flags, 0600);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    if ((flags & O_CREAT) && ftruncate(fd, sizeof(*shm)) < 0) {
        perror("ftruncate");
        exit(1);
    }
    shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (shm == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    close(fd);
    return shm;
}

static struct hmk_waiters *map_waiters(const char *name)
{
    char path[256];
    struct hmk_waiters *w;
    int fd;

    snprintf(path, sizeof(path), "/dev/shm/%s%s", name, HMK_WAITERS_SUFFIX);
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    w = mmap(NULL, HMK_WAITERS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (w == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return w;
}

/* One change of in pin IDX, published the way the bridge does it. */
static void set_in(struct hmk_shm *shm, struct hmk_waiters *w, unsigned i, double v)
{
    uint64_t cycle = atomic_load(&shm->in.cycle) + 1;
    uint64_t s = hmk_in_write_begin(&shm->in);

    atomic_store_explicit(&shm->in.value[i], hmk_enc_float(v), memory_order_relaxed);
    atomic_store_explicit(&shm->in.changed_cycle[i], cycle, memory_order_relaxed);
    atomic_store_explicit(&shm->in.cycle, cycle, memory_order_relaxed);
    hmk_in_write_end(&shm->in, s);
    atomic_store_explicit(&shm->hdr.bridge_cycle, cycle, memory_order_release);
    /* and wake waiters, as the bridge does in a cycle with a change */
    hmk_change_publish(&shm->hdr, w);
}

int main(int argc, char **argv)
{
    struct hmk_shm *shm;

    if (argc >= 4 && !strcmp(argv[1], "create")) {
        char tmp[256], path[256];
        unsigned n = (unsigned)atoi(argv[3]);
        struct timespec ts;
        struct hmk_region_header *h;

        snprintf(tmp, sizeof(tmp), ".%s.test", argv[2]);
        snprintf(path, sizeof(path), "/dev/shm/%s", argv[2]);
        shm = map(tmp, O_CREAT | O_EXCL);
        h = &shm->hdr;
        for (unsigned i = 0; i < n; i++) {
            snprintf(shm->pin[i].name, sizeof(shm->pin[i].name), "pin.%u", i);
            shm->pin[i].type = HMK_RT_FLOAT;
            shm->pin[i].dir = HMK_RD_IO;
            shm->pin[i].flags = HMK_PIN_SLOT;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        h->abi_version = HMK_ABI_VERSION;
        h->header_size = sizeof(*h);
        h->pin_desc_size = sizeof(struct hmk_pin_desc);
        h->region_size = sizeof(*shm);
        h->pin_count = n;
        h->max_pins = HMK_MAX_PINS;
        h->heartbeat_timeout_ms = 500;
        h->layout_hash = hmk_layout_hash(shm->pin, n);
        h->generation = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        snprintf(h->hal_prefix, sizeof(h->hal_prefix), "microkernel");
        h->magic = HMK_REGION_MAGIC;
        atomic_store_explicit(&h->state, HMK_STATE_ATTACHED, memory_order_release);
        {
            /* the companion object futex waiters register in, as the bridge
             * makes it: before the region appears */
            char wpath[256];
            struct hmk_waiters *w;
            int fd;
            snprintf(wpath, sizeof(wpath), "/dev/shm/%s%s", argv[2], HMK_WAITERS_SUFFIX);
            fd = open(wpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0 || ftruncate(fd, HMK_WAITERS_SIZE) < 0) {
                perror(wpath);
                return 1;
            }
            w = mmap(NULL, HMK_WAITERS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (w == MAP_FAILED) {
                perror("mmap");
                return 1;
            }
            close(fd);
            w->generation = h->generation;
            w->magic = HMK_WAITERS_MAGIC;
        }
        snprintf(tmp, sizeof(tmp), "/dev/shm/.%s.test", argv[2]);
        if (rename(tmp, path) < 0) {
            perror("rename");
            return 1;
        }
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "set-in")) {
        shm = map(argv[2], 0);
        set_in(shm, map_waiters(argv[2]), (unsigned)atoi(argv[3]), atof(argv[4]));
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "burst")) {
        unsigned rounds = (unsigned)atoi(argv[3]);
        long ms = atol(argv[4]);
        struct timespec gap = { ms / 1000, (ms % 1000) * 1000000L };
        struct hmk_waiters *w;
        shm = map(argv[2], 0);
        w = map_waiters(argv[2]);
        for (unsigned r = 1; r <= rounds; r++) {
            for (unsigned i = 1; i <= 3; i++)
                set_in(shm, w, i, r);
            nanosleep(&gap, NULL);
        }
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "heartbeat")) {
        shm = map(argv[2], 0);
        printf("%u %llu\n", atomic_load(&shm->hdr.daemon_pid),
               (unsigned long long)atomic_load(&shm->hdr.daemon_heartbeat_ns));
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "detach")) {
        char path[256];
        shm = map(argv[2], 0);
        atomic_store_explicit(&shm->hdr.state, HMK_STATE_DETACHED, memory_order_release);
        hmk_change_publish(&shm->hdr, map_waiters(argv[2]));
        snprintf(path, sizeof(path), "/dev/shm/%s%s", argv[2], HMK_WAITERS_SUFFIX);
        unlink(path);
        snprintf(path, sizeof(path), "/dev/shm/%s", argv[2]);
        return unlink(path) < 0;
    }
    fprintf(stderr, "usage: see the comment at the top of hmk-test-region.c\n");
    return 2;
}
