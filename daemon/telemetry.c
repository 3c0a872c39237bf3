/* telemetry.c - see telemetry.h */
#include "telemetry.h"
#include "fmt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int telem_open(struct telem *t, uint64_t deadline_ns)
{
    if (t->fd < 0) {
        int fd = memfd_create("hmk-telemetry", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        void *p;

        if (fd < 0)
            return -errno;
        /* sealed before any service sees it: nobody can shrink it under the
         * daemon's mapping (SIGBUS) or grow it */
        if (ftruncate(fd, HMK_TELEMETRY_SIZE) < 0 ||
            fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
        p = mmap(NULL, HMK_TELEMETRY_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            int e = -errno;
            close(fd);
            return e;
        }
        t->fd = fd;
        t->m = p;
        t->m->magic = HMK_TELEMETRY_MAGIC;
        t->m->version = HMK_TELEMETRY_VERSION;
    }
    /* a service may have scribbled over the header: say it again */
    t->m->magic = HMK_TELEMETRY_MAGIC;
    t->m->version = HMK_TELEMETRY_VERSION;
    atomic_store_explicit(&t->m->deadline_ns, deadline_ns, memory_order_relaxed);
    return 0;
}

void telem_close(struct telem *t)
{
    if (t->m)
        munmap(t->m, HMK_TELEMETRY_SIZE);
    if (t->fd >= 0)
        close(t->fd);
    t->m = NULL;
    t->fd = -1;
}

void telem_read(const struct telem *t, struct telem_snap *s)
{
    memset(s, 0, sizeof(*s));
    if (!t->m)
        return;
    s->deadline_ns = atomic_load_explicit(&t->m->deadline_ns, memory_order_relaxed);
    s->count = atomic_load_explicit(&t->m->count, memory_order_relaxed);
    s->misses = atomic_load_explicit(&t->m->misses, memory_order_relaxed);
    s->max_ns = atomic_load_explicit(&t->m->max_ns, memory_order_relaxed);
    s->sum_ns = atomic_load_explicit(&t->m->sum_ns, memory_order_relaxed);
    for (unsigned k = 0; k < HMK_TELEMETRY_BUCKETS; k++)
        s->hist[k] = atomic_load_explicit(&t->m->hist[k], memory_order_relaxed);
}

uint64_t telem_misses_due(struct telem *t, const struct telem_snap *s, uint64_t now_ms)
{
    uint64_t due;

    if (s->misses < t->misses_logged)
        t->misses_logged = s->misses; /* the service rewrote its count: follow it */
    due = s->misses - t->misses_logged;
    if (!due || (t->last_line_ms && now_ms - t->last_line_ms < TELEM_LINE_INTERVAL_MS))
        return 0;
    t->misses_logged = s->misses;
    t->last_line_ms = now_ms ? now_ms : 1;
    return due;
}

int telem_format(const char *name, const struct telem_snap *s, char *buf, size_t len)
{
    int n = fmt(buf, len, "stats\t%s\t%llu\t%llu\t%llu\t%llu\t%llu\t", name,
                (unsigned long long)s->deadline_ns, (unsigned long long)s->count,
                (unsigned long long)s->misses, (unsigned long long)s->max_ns,
                (unsigned long long)s->sum_ns);

    for (unsigned k = 0; k < HMK_TELEMETRY_BUCKETS && n > 0 && (size_t)n < len; k++)
        n += fmt(buf + n, len - (size_t)n, "%s%llu", k ? "," : "", (unsigned long long)s->hist[k]);
    if (n > 0 && (size_t)n < len)
        n += fmt(buf + n, len - (size_t)n, "\n");
    return n > 0 && (size_t)n < len ? n : -ENOSPC;
}
