/*
 * hmk_merge.c - how the bridge takes out values from the write channels:
 * the grants it follows and the per-channel latch read. Ordinary C with no
 * HAL in it, included by the bridge (halcompile builds one file) and by the
 * userspace bridge simulator tests/daemon/hmk-test-region.c, so the tests
 * without HAL exercise exactly the rule HAL runs under.
 *
 * RT-safe: no allocation, no lock, no system call; every loop is bounded by
 * the channel count, the out-pin count and HMK_LATCH_RETRIES. State another
 * process can write (the control block, the channels) is only read here,
 * and never used as a size, an index or a position.
 */
#include <stdbool.h>
#include <stdint.h>

#include "../include/hmk_region.h"

struct hmk_merge {
    /* set at load */
    unsigned nchan;
    unsigned n_out;
    unsigned out_idx[HMK_MAX_PINS];             /* the pins with an out side */
    const struct hmk_pin_desc *pin;             /* the bridge's own pin table */
    struct hmk_region_header *h;                /* counters */
    struct hmk_ctl *ctl;
    struct hmk_chan *chan[HMK_MAX_CHANNELS];
    /* private */
    uint64_t grant[HMK_MAX_CHANNELS][HMK_GRANT_WORDS];
    uint64_t grant_tmp[HMK_MAX_CHANNELS][HMK_GRANT_WORDS];
    bool chan_on[HMK_MAX_CHANNELS];             /* granted a pin, now or before */
    uint64_t grant_seq_seen;
    uint32_t seen_gen[HMK_MAX_CHANNELS][HMK_MAX_PINS];
    uint64_t tv[HMK_MAX_PINS];
    uint32_t tg[HMK_MAX_PINS];
    /* results */
    uint64_t latched[HMK_MAX_PINS];             /* the merged out value of each pin */
    uint32_t pin_gen[HMK_MAX_PINS];             /* bumped when a channel wrote the pin */
    bool out_dirty;                             /* a latched value changed */
};

static inline bool hmk_merge_granted(const struct hmk_merge *m, unsigned k, unsigned i)
{
    return (m->grant[k][i / 64] >> (i % 64)) & 1u;
}

/* A float no HAL component expects: NaN or an infinity (exponent all ones). */
static inline bool hmk_nonfinite(uint8_t type, uint64_t raw)
{
    return type == HMK_RT_FLOAT && (raw & 0x7ff0000000000000ull) == 0x7ff0000000000000ull;
}

/* Load time, after pin, nchan, ctl and chan[] are set: the out pins, and
 * the tools channel's grant (every out pin; the daemon cannot change it). */
static void hmk_merge_init(struct hmk_merge *m, unsigned npins)
{
    m->n_out = 0;
    for (unsigned i = 0; i < npins; i++)
        if (m->pin[i].dir & HMK_RD_OUT)
            m->out_idx[m->n_out++] = i;
    for (unsigned j = 0; j < m->n_out; j++)
        m->grant[0][m->out_idx[j] / 64] |= 1ull << (m->out_idx[j] % 64);
    m->chan_on[0] = m->n_out != 0;
    atomic_store_explicit(&m->ctl->grant_seq, 2, memory_order_release);
    m->grant_seq_seen = 2;
}

/* The grants, when the daemon changed them: one seqlock read of the control
 * block a cycle at most; a torn read keeps the old grants for a cycle. */
static void hmk_merge_grants(struct hmk_merge *m)
{
    uint64_t s = atomic_load_explicit(&m->ctl->grant_seq, memory_order_acquire);

    if (s == m->grant_seq_seen || (s & 1u))
        return;
    for (unsigned k = 1; k < m->nchan; k++)
        for (unsigned w = 0; w < HMK_GRANT_WORDS; w++)
            m->grant_tmp[k][w] = atomic_load_explicit(&m->ctl->grant[k][w], memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&m->ctl->grant_seq, memory_order_relaxed) != s)
        return;
    /* a channel once granted is read for good, its grant revoked or not:
     * what is written into it while revoked (by a descendant that outlived
     * its service) is used up and refused then, not applied when the
     * service starts again and gets its grant back */
    for (unsigned k = 1; k < m->nchan; k++) {
        uint64_t any = 0;
        for (unsigned w = 0; w < HMK_GRANT_WORDS; w++)
            any |= m->grant[k][w] = m->grant_tmp[k][w];
        m->chan_on[k] = m->chan_on[k] || any != 0;
    }
    m->grant_seq_seen = s;
}

/* Channel k's latch, at most HMK_LATCH_RETRIES reads: each pin whose write
 * generation moved is taken if granted to k and a sane value, refused and
 * counted otherwise (a generation seen is used up either way: a grant given
 * later does not resurrect an old refused write). false on a latch miss:
 * the channel's pins stay as they are this cycle. */
static bool hmk_merge_channel(struct hmk_merge *m, unsigned k)
{
    const struct hmk_out_block *b = &m->chan[k]->out;
    unsigned tries;

    for (tries = 0; tries < HMK_LATCH_RETRIES; tries++) {
        uint64_t s = hmk_out_read_begin(b);
        const struct hmk_out_copy *c = &b->copy[s & 1u];
        for (unsigned j = 0; j < m->n_out; j++) {
            m->tv[j] = atomic_load_explicit(&c->value[m->out_idx[j]], memory_order_relaxed);
            m->tg[j] = atomic_load_explicit(&c->wgen[m->out_idx[j]], memory_order_relaxed);
        }
        if (!hmk_out_read_retry(b, s))
            break;
        atomic_fetch_add_explicit(&m->h->torn_retries, 1, memory_order_relaxed);
    }
    if (tries == HMK_LATCH_RETRIES) {
        atomic_fetch_add_explicit(&m->h->latch_misses, 1, memory_order_relaxed);
        return false;
    }
    for (unsigned j = 0; j < m->n_out; j++) {
        unsigned i = m->out_idx[j];
        if (m->tg[j] == m->seen_gen[k][i])
            continue;
        m->seen_gen[k][i] = m->tg[j];
        if (!hmk_merge_granted(m, k, i) || hmk_nonfinite(m->pin[i].type, m->tv[j])) {
            atomic_fetch_add_explicit(&m->h->rejected, 1, memory_order_relaxed);
            continue;
        }
        if (m->latched[i] != m->tv[j])
            m->out_dirty = true;
        m->latched[i] = m->tv[j];
        m->pin_gen[i]++;
        atomic_fetch_add_explicit(&m->h->out_applied, 1, memory_order_relaxed);
    }
    return true;
}

/* Every granted channel; false if any missed its latch. */
static bool hmk_merge_all(struct hmk_merge *m)
{
    bool ok = true;

    hmk_merge_grants(m);
    for (unsigned k = 0; k < m->nchan; k++)
        if (m->chan_on[k] && !hmk_merge_channel(m, k))
            ok = false;
    return ok;
}
