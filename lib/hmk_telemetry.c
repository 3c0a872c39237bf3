/*
 * hmk_telemetry.c - the service's side of the reaction-time block
 * (include/hmk_svc_abi.h): found through $HMK_TELEMETRY_FD and mapped on
 * the first reaction, then only atomic adds. Never logs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "halmk_int.h"
#include "halmk_service.h"
#include "hmk_svc_abi.h"

static struct hmk_telemetry *tm;
static pthread_once_t tm_once = PTHREAD_ONCE_INIT;

static void tm_map(void)
{
    const char *e = getenv(HMK_ENV_TELEMETRY_FD);
    struct stat st;
    char *end;
    long fd;
    void *p;

    if (!e || !*e)
        return;
    errno = 0;
    fd = strtol(e, &end, 10);
    if (*end || errno || fd < 0 || fd > 1024 || fstat((int)fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        st.st_size < (off_t)HMK_TELEMETRY_SIZE)
        return; /* not the daemon's block: no telemetry, nothing else changes */
    p = mmap(NULL, HMK_TELEMETRY_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
    if (p == MAP_FAILED)
        return;
    if (((struct hmk_telemetry *)p)->magic != HMK_TELEMETRY_MAGIC ||
        ((struct hmk_telemetry *)p)->version != HMK_TELEMETRY_VERSION) {
        munmap(p, HMK_TELEMETRY_SIZE);
        return;
    }
    tm = p;
}

int hmk_reaction(uint64_t stamp_ns)
{
    struct timespec ts;
    uint64_t now, ns, max, deadline;

    pthread_once(&tm_once, tm_map);
    if (!tm || !stamp_ns)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    ns = now > stamp_ns ? now - stamp_ns : 0;
    atomic_fetch_add_explicit(&tm->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&tm->sum_ns, ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&tm->hist[hmk_telemetry_bucket(ns)], 1, memory_order_relaxed);
    max = atomic_load_explicit(&tm->max_ns, memory_order_relaxed);
    while (ns > max && !atomic_compare_exchange_weak_explicit(&tm->max_ns, &max, ns, memory_order_relaxed,
                                                              memory_order_relaxed))
        ;
    deadline = atomic_load_explicit(&tm->deadline_ns, memory_order_relaxed);
    if (deadline && ns > deadline) {
        atomic_fetch_add_explicit(&tm->misses, 1, memory_order_relaxed);
        return 1;
    }
    return 0;
}
