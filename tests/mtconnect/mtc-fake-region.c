/*
 * mtc-fake-region - plays the bridge for mtconnect-adapter's tests and
 * benchmark, without HAL: a region with typed pins and a change stream,
 * laid out by include/hmk_region.h (tests/daemon/hmk-test-region makes
 * float slots only and no stream).
 *
 *   mtc-fake-region create NAME PIN:TYPE[:DIR],...   TYPE bit|float|s32|u32, DIR in|out|io
 *   mtc-fake-region set NAME PIN=VALUE...            all in one bridge cycle
 *   mtc-fake-region ramp NAME PIN COUNT [GAP_US]     PIN = 1..COUNT, one cycle each; prints
 *                                                    "VALUE MONO_NS" per cycle on stdout
 *   mtc-fake-region stamped NAME MS:PIN=VALUE...     one cycle each, stamped MS ms from
 *                                                    now; prints "CYCLE UTC_MS" per cycle
 *   mtc-fake-region arm NAME                         as a daemon whose relay is armed: readers
 *                                                    then sleep without time slices
 *   mtc-fake-region beat NAME                        stamp the daemon heartbeat (now)
 *   mtc-fake-region detach NAME                      detach, unlink both objects
 *
 * Each command is a cycle of its own, without a running bridge: it wakes
 * readers directly (a bridge wakes only the daemon's relay) and stamps
 * the heartbeat mirror the bridge keeps in the header. Read side only: the
 * adapter never writes (tests/daemon/hmk-test-region simulates the rest).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hmk_region.h"

#define DEPTH 4096u

static uint64_t now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *map(const char *name, const char *suffix, size_t size, int flags)
{
    char path[256];
    void *p;
    int fd;

    snprintf(path, sizeof(path), "/dev/shm/%s%s", name, suffix);
    fd = open(path, O_RDWR | O_CLOEXEC | flags, 0644);
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

static int parse_type(const char *t)
{
    return !strcmp(t, "bit") ? HMK_RT_BIT : !strcmp(t, "float") ? HMK_RT_FLOAT
         : !strcmp(t, "s32") ? HMK_RT_S32 : !strcmp(t, "u32") ? HMK_RT_U32 : -1;
}

static void create(const char *name, char *spec)
{
    char tmp[256], path[256], *save = NULL;
    struct hmk_shm *shm;
    struct hmk_region_header *h;
    struct hmk_stream_hdr *st;
    unsigned n = 0;

    snprintf(tmp, sizeof(tmp), ".%s.test", name);
    shm = map(tmp, "", sizeof(*shm), O_CREAT | O_EXCL);
    h = &shm->hdr;
    for (char *p = strtok_r(spec, ",", &save); p; p = strtok_r(NULL, ",", &save), n++) {
        char *t = strchr(p, ':'), *d;
        int type;
        if (!t || (type = parse_type(strtok(t + 1, ":"))) < 0) {
            fprintf(stderr, "mtc-fake-region: bad pin spec '%s'\n", p);
            exit(2);
        }
        *t = '\0';
        d = strtok(NULL, ":");
        snprintf(shm->pin[n].name, sizeof(shm->pin[n].name), "%s", p);
        shm->pin[n].type = (uint8_t)type;
        shm->pin[n].dir = !d || !strcmp(d, "in") ? HMK_RD_IN : !strcmp(d, "out") ? HMK_RD_OUT
                                                                                 : HMK_RD_IO;
    }
    hmk_region_header_init(shm, n, 0, now_ns(CLOCK_REALTIME), "microkernel", 500);
    hmk_region_publish(h);
    /* the stream first, as the bridge does: before the region appears */
    st = map(name, HMK_STREAM_SUFFIX, stream_size(), O_CREAT | O_TRUNC);
    st->depth = DEPTH;
    st->generation = h->generation;
    st->magic = HMK_STREAM_MAGIC;
    snprintf(tmp, sizeof(tmp), "/dev/shm/.%s.test", name);
    snprintf(path, sizeof(path), "/dev/shm/%s", name);
    if (rename(tmp, path) < 0) {
        perror("rename");
        exit(1);
    }
}

struct fake {
    struct hmk_shm *shm;
    struct hmk_stream_hdr *st;
};

static void open_fake(struct fake *f, const char *name)
{
    f->shm = map(name, "", sizeof(*f->shm), 0);
    f->st = map(name, HMK_STREAM_SUFFIX, stream_size(), 0);
}

/* A change, and every reader woken (no relay here: no daemon, no bridge). */
static void publish(struct hmk_shm *shm)
{
    atomic_fetch_add_explicit(&shm->hdr.change_word, 2, memory_order_seq_cst);
    syscall(SYS_futex, &shm->hdr.change_word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static int find(const struct fake *f, const char *pin)
{
    for (unsigned i = 0; i < f->shm->hdr.pin_count; i++)
        if (!strcmp(f->shm->pin[i].name, pin))
            return (int)i;
    fprintf(stderr, "mtc-fake-region: no pin '%s'\n", pin);
    exit(2);
}

static uint64_t encode(const struct fake *f, int i, const char *v)
{
    switch (f->shm->pin[i].type) {
    case HMK_RT_FLOAT: return hmk_enc_float(strtod(v, NULL));
    case HMK_RT_S32:   return hmk_enc_s32((int32_t)strtol(v, NULL, 0));
    case HMK_RT_BIT:   return strtoul(v, NULL, 0) != 0;
    default:           return (uint32_t)strtoul(v, NULL, 0);
    }
}

/* One bridge cycle, stamped t (CLOCK_MONOTONIC ns, as the bridge stamps),
 * that changes pins idx[0..n) to raw[0..n). Returns the cycle number. */
static uint64_t cycle_at(struct fake *f, const int *idx, const uint64_t *raw, int n, uint64_t t)
{
    struct hmk_shm *shm = f->shm;
    uint64_t c = atomic_load(&shm->in.cycle) + 1, s = hmk_in_write_begin(&shm->in);

    for (int k = 0; k < n; k++) {
        atomic_store_explicit(&shm->in.value[idx[k]], raw[k], memory_order_relaxed);
        atomic_store_explicit(&shm->in.changed_cycle[idx[k]], c, memory_order_relaxed);
    }
    atomic_store_explicit(&shm->in.cycle, c, memory_order_relaxed);
    hmk_in_write_end(&shm->in, s);
    for (int k = 0; k < n; k++) {
        uint64_t head = atomic_load(&f->st->head); /* this process is the only writer */
        hmk_stream_append(f->st, &head, DEPTH, c, t, (uint32_t)idx[k], raw[k]);
    }
    atomic_store_explicit(&shm->hdr.bridge_time_ns, t, memory_order_relaxed);
    atomic_store_explicit(&shm->hdr.bridge_cycle, c, memory_order_release);
    atomic_fetch_add(&shm->hdr.cycles, 1);
    publish(shm);
    return c;
}

static void cycle(struct fake *f, const int *idx, const uint64_t *raw, int n)
{
    cycle_at(f, idx, raw, n, now_ns(CLOCK_MONOTONIC));
}

/* "MS:PIN=VALUE": one cycle stamped MS ms from now; prints "CYCLE UTC_MS",
 * the stamp in UTC as this process converts it (the test's reference). */
static int stamped(struct fake *f, char *arg)
{
    char *colon = strchr(arg, ':'), *eq = colon ? strchr(colon, '=') : NULL;
    int64_t off, mono = (int64_t)now_ns(CLOCK_MONOTONIC), t;
    uint64_t raw, c;
    int idx;

    if (!eq)
        return 2;
    *colon = *eq = '\0';
    off = (int64_t)now_ns(CLOCK_REALTIME) - mono;
    t = mono + (int64_t)strtol(arg, NULL, 10) * 1000000;
    idx = find(f, colon + 1);
    raw = encode(f, idx, eq + 1);
    c = cycle_at(f, &idx, &raw, 1, (uint64_t)t);
    printf("%llu %lld\n", (unsigned long long)c, (long long)((t + off) / 1000000));
    return 0;
}

static void unlink_all(const char *name)
{
    const char *sfx[] = { HMK_STREAM_SUFFIX, "" };
    char path[256];

    for (unsigned k = 0; k < 2; k++) {
        snprintf(path, sizeof(path), "/dev/shm/%s%s", name, sfx[k]);
        unlink(path);
    }
}

int main(int argc, char **argv)
{
    struct fake f;

    if (argc == 4 && !strcmp(argv[1], "create")) {
        create(argv[2], argv[3]);
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "set")) {
        int idx[64], n = 0;
        uint64_t raw[64];
        open_fake(&f, argv[2]);
        for (int k = 3; k < argc && n < 64; k++, n++) {
            char *eq = strchr(argv[k], '=');
            if (!eq)
                return 2;
            *eq = '\0';
            idx[n] = find(&f, argv[k]);
            raw[n] = encode(&f, idx[n], eq + 1);
        }
        cycle(&f, idx, raw, n);
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "stamped")) {
        open_fake(&f, argv[2]);
        for (int k = 3; k < argc; k++)
            if (stamped(&f, argv[k]))
                return 2;
        return 0;
    }
    if ((argc == 5 || argc == 6) && !strcmp(argv[1], "ramp")) {
        unsigned count = (unsigned)atoi(argv[4]), gap = argc == 6 ? (unsigned)atoi(argv[5]) : 0;
        int idx;
        open_fake(&f, argv[2]);
        idx = find(&f, argv[3]);
        for (unsigned k = 1; k <= count; k++) {
            char v[32];
            uint64_t raw;
            snprintf(v, sizeof(v), "%u", k);
            uint64_t t0 = now_ns(CLOCK_MONOTONIC);
            raw = encode(&f, idx, v);
            cycle(&f, &idx, &raw, 1);
            if (gap) {
                printf("%u %llu\n", k, (unsigned long long)t0);
                fflush(stdout);
                usleep(gap);
            }
        }
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "arm")) {
        open_fake(&f, argv[2]);
        atomic_store(&f.shm->hdr.connected, 1);
        atomic_fetch_or(&f.shm->hdr.change_word, 1u);
        syscall(SYS_futex, &f.shm->hdr.change_word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "beat")) {
        open_fake(&f, argv[2]);
        atomic_store(&f.shm->hdr.daemon_heartbeat_ns, now_ns(CLOCK_MONOTONIC));
        atomic_store(&f.shm->hdr.connected, 1);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "detach")) {
        open_fake(&f, argv[2]);
        atomic_store_explicit(&f.shm->hdr.state, HMK_STATE_DETACHED, memory_order_release);
        publish(f.shm);
        unlink_all(argv[2]);
        return 0;
    }
    fprintf(stderr, "usage: see the comment at the top of mtc-fake-region.c\n");
    return 2;
}
