/*
 * hmk-web-region - plays the bridge (and the daemon's heartbeat) for the
 * web service's tests, without HAL: a region laid out by
 * include/hmk_region.h with its .waiters and .stream companions, so the
 * service follows a real change stream.
 *
 *   hmk-web-region create NAME N      pin.0..pin.N-1 float io slots, then
 *                                     lamp (bit out), estop (bit in), count (s32 in)
 *   hmk-web-region set NAME IDX VALUE in value of pin IDX (as its type), one
 *                                     bridge cycle, stream record, wake-up
 *   hmk-web-region out NAME IDX       prints the out value of pin IDX (float)
 *   hmk-web-region beat NAME MS       stamps the daemon heartbeat every MS until killed
 *   hmk-web-region clock NAME IDX HZ SECONDS
 *                                     sets pin IDX to the wall clock in ms
 *                                     (fractional), HZ times a second: the
 *                                     page's latency probe (bench/web.sh)
 *   hmk-web-region storm NAME HZ SECONDS
 *                                     every float pin changes in every cycle,
 *                                     HZ cycles a second (big frames, and a
 *                                     stream the reader cannot keep up with)
 *   hmk-web-region detach NAME        marks it detached, unlinks all three
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

#define DEPTH 4096u

static void *map(const char *name, const char *suffix, size_t size, int flags)
{
    char path[256];
    void *p;
    int fd;

    snprintf(path, sizeof(path), "/dev/shm/%s%s", name, suffix);
    fd = open(path, O_RDWR | O_CLOEXEC | flags, 0600);
    if (fd < 0 || ((flags & O_CREAT) && ftruncate(fd, (off_t)size) < 0)) {
        perror(path);
        exit(1);
    }
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    close(fd);
    return p;
}

static size_t stream_size(void)
{
    return sizeof(struct hmk_stream_hdr) + DEPTH * sizeof(struct hmk_stream_rec);
}

static uint64_t now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pin(struct hmk_shm *shm, unsigned i, const char *name, int type, int dir, int flags)
{
    snprintf(shm->pin[i].name, sizeof(shm->pin[i].name), "%s", name);
    shm->pin[i].type = (uint8_t)type;
    shm->pin[i].dir = (uint8_t)dir;
    shm->pin[i].flags = (uint8_t)flags;
}

static int create(const char *name, unsigned n)
{
    char tmp[256], path[256], pname[32];
    struct hmk_shm *shm;
    struct hmk_region_header *h;
    struct hmk_waiters *w;
    struct hmk_stream_hdr *st;

    snprintf(tmp, sizeof(tmp), ".%s.webtest", name);
    shm = map(tmp, "", sizeof(*shm), O_CREAT | O_EXCL);
    h = &shm->hdr;
    for (unsigned i = 0; i < n; i++) {
        snprintf(pname, sizeof(pname), "pin.%u", i);
        pin(shm, i, pname, HMK_RT_FLOAT, HMK_RD_IO, HMK_PIN_SLOT);
    }
    pin(shm, n, "lamp", HMK_RT_BIT, HMK_RD_OUT, 0);
    pin(shm, n + 1, "estop", HMK_RT_BIT, HMK_RD_IN, 0);
    pin(shm, n + 2, "count", HMK_RT_S32, HMK_RD_IN, 0);
    n += 3;
    hmk_mutex_init_shared(&shm->out.lock);
    h->abi_version = HMK_ABI_VERSION;
    h->header_size = sizeof(*h);
    h->pin_desc_size = sizeof(struct hmk_pin_desc);
    h->region_size = sizeof(*shm);
    h->pin_count = n;
    h->max_pins = HMK_MAX_PINS;
    h->heartbeat_timeout_ms = 500;
    h->layout_hash = hmk_layout_hash(shm->pin, n);
    h->generation = now(CLOCK_REALTIME);
    snprintf(h->hal_prefix, sizeof(h->hal_prefix), "microkernel");
    /* companions first, as the bridge makes them: before the region appears */
    w = map(name, HMK_WAITERS_SUFFIX, HMK_WAITERS_SIZE, O_CREAT | O_TRUNC);
    w->generation = h->generation;
    w->magic = HMK_WAITERS_MAGIC;
    st = map(name, HMK_STREAM_SUFFIX, stream_size(), O_CREAT | O_TRUNC);
    st->depth = DEPTH;
    st->generation = h->generation;
    st->magic = HMK_STREAM_MAGIC;
    h->magic = HMK_REGION_MAGIC;
    atomic_store_explicit(&h->state, HMK_STATE_ATTACHED, memory_order_release);
    snprintf(tmp, sizeof(tmp), "/dev/shm/.%s.webtest", name);
    snprintf(path, sizeof(path), "/dev/shm/%s", name);
    return rename(tmp, path) < 0 ? perror("rename"), 1 : 0;
}

/* One bridge cycle in which pin i changed to the encoded value. */
static void cycle(struct hmk_shm *shm, struct hmk_waiters *w, struct hmk_stream_hdr *st,
                  unsigned i, uint64_t enc)
{
    uint64_t c = atomic_load(&shm->in.cycle) + 1, s = hmk_in_write_begin(&shm->in);

    atomic_store_explicit(&shm->in.value[i], enc, memory_order_relaxed);
    atomic_store_explicit(&shm->in.changed_cycle[i], c, memory_order_relaxed);
    atomic_store_explicit(&shm->in.cycle, c, memory_order_relaxed);
    hmk_in_write_end(&shm->in, s);
    hmk_stream_append(st, c, i, enc);
    atomic_store_explicit(&shm->hdr.bridge_time_ns, now(CLOCK_MONOTONIC), memory_order_relaxed);
    atomic_store_explicit(&shm->hdr.bridge_cycle, c, memory_order_release);
    hmk_change_publish(&shm->hdr, w);
}

static uint64_t encode(const struct hmk_pin_desc *d, const char *text)
{
    switch (d->type) {
    case HMK_RT_FLOAT: return hmk_enc_float(strtod(text, NULL));
    case HMK_RT_S32: return hmk_enc_s32((int32_t)strtol(text, NULL, 0));
    case HMK_RT_BIT: return !strcmp(text, "1") || !strcmp(text, "true");
    default: return strtoul(text, NULL, 0);
    }
}

static int clock_pin(struct hmk_shm *shm, struct hmk_waiters *w, struct hmk_stream_hdr *st,
                     unsigned i, double hz, unsigned seconds)
{
    struct timespec next;
    long period = (long)(1e9 / hz);
    uint64_t end = now(CLOCK_MONOTONIC) + (uint64_t)seconds * 1000000000ull;

    clock_gettime(CLOCK_MONOTONIC, &next);
    while (now(CLOCK_MONOTONIC) < end) {
        cycle(shm, w, st, i, hmk_enc_float((double)now(CLOCK_REALTIME) / 1e6));
        next.tv_nsec += period;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec += next.tv_nsec / 1000000000L;
            next.tv_nsec %= 1000000000L;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    return 0;
}

static int storm(struct hmk_shm *shm, struct hmk_waiters *w, struct hmk_stream_hdr *st,
                 unsigned hz, unsigned seconds)
{
    struct timespec ts = { .tv_sec = 0, .tv_nsec = 1000000000L / (long)hz };
    uint64_t end = now(CLOCK_MONOTONIC) + (uint64_t)seconds * 1000000000ull, k = 0;
    unsigned n = shm->hdr.pin_count;

    while (now(CLOCK_MONOTONIC) < end) {
        uint64_t c = atomic_load(&shm->in.cycle) + 1, s = hmk_in_write_begin(&shm->in);
        k++;
        for (unsigned i = 0; i < n; i++)
            if (shm->pin[i].type == HMK_RT_FLOAT) {
                atomic_store_explicit(&shm->in.value[i], hmk_enc_float((double)(k * 1000 + i)),
                                      memory_order_relaxed);
                atomic_store_explicit(&shm->in.changed_cycle[i], c, memory_order_relaxed);
            }
        atomic_store_explicit(&shm->in.cycle, c, memory_order_relaxed);
        hmk_in_write_end(&shm->in, s);
        for (unsigned i = 0; i < n; i++)
            if (shm->pin[i].type == HMK_RT_FLOAT)
                hmk_stream_append(st, c, i, hmk_enc_float((double)(k * 1000 + i)));
        atomic_store_explicit(&shm->hdr.bridge_cycle, c, memory_order_release);
        hmk_change_publish(&shm->hdr, w);
        nanosleep(&ts, NULL);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct hmk_shm *shm;
    struct hmk_waiters *w;
    struct hmk_stream_hdr *st;

    if (argc == 4 && !strcmp(argv[1], "create"))
        return create(argv[2], (unsigned)atoi(argv[3]));
    if (argc < 3) {
        fprintf(stderr, "usage: see the comment at the top of web-region.c\n");
        return 2;
    }
    shm = map(argv[2], "", sizeof(*shm), 0);
    w = map(argv[2], HMK_WAITERS_SUFFIX, HMK_WAITERS_SIZE, 0);
    st = map(argv[2], HMK_STREAM_SUFFIX, stream_size(), 0);
    if (argc == 5 && !strcmp(argv[1], "set")) {
        unsigned i = (unsigned)atoi(argv[3]);
        cycle(shm, w, st, i, encode(&shm->pin[i], argv[4]));
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "out")) {
        unsigned i = (unsigned)atoi(argv[3]);
        uint64_t s = atomic_load(&shm->out.seq);
        printf("%.17g\n", hmk_dec_float(atomic_load(&shm->out.copy[s & 1].value[i])));
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "beat")) {
        struct timespec ts = { .tv_sec = 0, .tv_nsec = atoi(argv[3]) * 1000000L };
        atomic_store(&shm->hdr.daemon_pid, (uint32_t)getpid());
        for (;;) {
            atomic_store(&shm->hdr.daemon_heartbeat_ns, now(CLOCK_MONOTONIC));
            nanosleep(&ts, NULL);
        }
    }
    if (argc == 6 && !strcmp(argv[1], "clock"))
        return clock_pin(shm, w, st, (unsigned)atoi(argv[3]), atof(argv[4]),
                         (unsigned)atoi(argv[5]));
    if (argc == 5 && !strcmp(argv[1], "storm"))
        return storm(shm, w, st, (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
    if (argc == 3 && !strcmp(argv[1], "detach")) {
        char path[256];
        atomic_store_explicit(&shm->hdr.state, HMK_STATE_DETACHED, memory_order_release);
        hmk_change_publish(&shm->hdr, w);
        for (int k = 0; k < 3; k++) {
            snprintf(path, sizeof(path), "/dev/shm/%s%s", argv[2],
                     k == 0 ? "" : k == 1 ? HMK_WAITERS_SUFFIX : HMK_STREAM_SUFFIX);
            unlink(path);
        }
        return 0;
    }
    fprintf(stderr, "usage: see the comment at the top of web-region.c\n");
    return 2;
}
