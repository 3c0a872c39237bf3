/*
 * libhalmk: change notification (the change word's futex, the daemon's
 * relay), hmk_sync and hmk_wait. The contract is in include/halmk.h and
 * include/halmk_service.h; the change word's rules are in
 * include/hmk_region.h.
 */
#include "halmk.h"
#include "halmk_service.h"
#include "hmk_region.h"
#include "halmk_int.h"

#include <errno.h>
#include <time.h>

/* ---- change notification ------------------------------------------------ */

uint32_t hmk_change_seq(const hmk_region *r)
{
    /* bit 0 is the daemon's relay flag, not a change */
    return atomic_load_explicit(&r->shm->hdr.change_word, memory_order_acquire) >> 1;
}

static int64_t hmk_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How long one sleep may last: while the daemon's relay is armed the bridge
 * wakes us through it (the cap only guards against a daemon killed in
 * between: its services die with it, a tool sees changes again after at
 * most this long); without a daemon nobody wakes us, so we look every
 * HMK_WAIT_SLICE_MS: a change is seen at most that late. */
#define HMK_WAIT_SLICE_MS      10
#define HMK_WAIT_ARMED_MAX_MS  5000

int hmk_wait_change(const hmk_region *r, uint32_t *seq, int timeout_ms)
{
    return hmk_wait_change_or(r, seq, timeout_ms, NULL);
}

/* hmk_wait_change that also returns (-ECANCELED) once *stop is set and the
 * change word's futex is woken: hmk_change_fd's thread, stopped by hmk_close. */
int hmk_wait_change_or(const hmk_region *r, uint32_t *seq, int timeout_ms,
                       const atomic_bool *stop)
{
    const struct hmk_region_header *h = &r->shm->hdr;
    int64_t deadline = timeout_ms >= 0 ? hmk_mono_ms() + timeout_ms : 0;
    int ret;

    for (;;) {
        struct timespec ts;
        int64_t slice;
        uint32_t w;
        bool armed, connected;

        if (stop && atomic_load(stop))
            return -ECANCELED;
        ret = hmk_check(r);
        if (ret < 0)
            return ret;
        w = atomic_load_explicit(&h->change_word, memory_order_seq_cst);
        if ((w >> 1) != *seq) {
            *seq = w >> 1;
            return 0;
        }
        armed = w & 1u;
        connected = atomic_load_explicit(&h->connected, memory_order_relaxed) != 0;
        if (!armed && connected)
            hmk_relay_poke((hmk_region *)r); /* the relay then sets bit 0: w moves */
        slice = armed && connected ? HMK_WAIT_ARMED_MAX_MS : HMK_WAIT_SLICE_MS;
        if (timeout_ms >= 0) {
            int64_t left = deadline - hmk_mono_ms();
            if (left <= 0)
                return -ETIMEDOUT;
            if (left < slice)
                slice = left;
        }
        ts.tv_sec = (time_t)(slice / 1000);
        ts.tv_nsec = (long)(slice % 1000) * 1000000L;
        /* a futex on the read-only mapping: the word only the bridge and
         * the daemon write; any change of it, the relay bit included, ends
         * the sleep, and the loop looks again */
        if (syscall(SYS_futex, &h->change_word, FUTEX_WAIT, w, &ts, NULL, 0) < 0 &&
            errno == EINTR)
            return -EINTR;
    }
}

#define HMK_SYNC_IDLE_MS 100

int hmk_sync(const hmk_region *r, int timeout_ms)
{
    const struct hmk_region_header *h = &r->shm->hdr;
    const struct timespec tick = { 0, 1000000L };
    uint64_t c0 = atomic_load_explicit(&h->bridge_cycle, memory_order_acquire), seen = c0;
    int64_t start = hmk_mono_ms(), moved = start;

    /* a short poll: the bridge publishes no event per cycle (that would be
     * a system call in every cycle), and this is a tool's one-off wait */
    for (;;) {
        uint64_t c = atomic_load_explicit(&h->bridge_cycle, memory_order_acquire);
        int64_t now = hmk_mono_ms();
        if (hmk_check(r) < 0)
            return -ESTALE;
        if (c >= c0 + 2)
            return 0;
        if (c != seen) {
            seen = c;
            moved = now;
        }
        if (now - moved > HMK_SYNC_IDLE_MS)
            return -EAGAIN;
        if (timeout_ms >= 0 && now - start > timeout_ms)
            return -ETIMEDOUT;
        nanosleep(&tick, NULL);
    }
}

uint64_t hmk_cycle(const hmk_region *r)
{
    return atomic_load_explicit(&r->shm->in.cycle, memory_order_acquire);
}

/* Marks the pins whose last change is after *since; returns how many. */
static int hmk_changed_since(const hmk_region *r, const unsigned *pins, unsigned n,
                             uint64_t since, uint64_t *newest, bool *changed)
{
    int count = 0;

    for (unsigned k = 0; k < n; k++) {
        uint64_t c = 0;
        if (pins[k] < r->pin_count)
            c = atomic_load_explicit(&r->shm->in.changed_cycle[pins[k]], memory_order_acquire);
        if (changed)
            changed[k] = c > since;
        if (c > since)
            count++;
        if (c > *newest)
            *newest = c;
    }
    return count;
}

int hmk_wait(const hmk_region *r, const unsigned *pins, unsigned n, uint64_t *since,
             int timeout_ms, bool *changed)
{
    int64_t deadline = timeout_ms >= 0 ? hmk_mono_ms() + timeout_ms : 0;

    if (!since || (n && !pins))
        return -EINVAL;
    for (unsigned k = 0; k < n; k++)
        if (pins[k] >= r->pin_count || !(r->pins[pins[k]].dir & HMK_RD_IN))
            return -EINVAL;
    for (;;) {
        /* take the futex cursor before looking, so a change published
         * between the look and the sleep ends the sleep at once */
        uint32_t seq = hmk_change_seq(r);
        uint64_t newest = *since;
        int left, ret, count = hmk_changed_since(r, pins, n, *since, &newest, changed);

        if (count > 0) {
            *since = newest;
            return count;
        }
        left = timeout_ms < 0 ? -1 : (int)(deadline - hmk_mono_ms());
        if (timeout_ms >= 0 && left <= 0)
            return -ETIMEDOUT;
        ret = hmk_wait_change(r, &seq, left);
        if (ret < 0 && ret != -ETIMEDOUT)
            return ret;
    }
}
