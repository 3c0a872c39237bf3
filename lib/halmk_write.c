/*
 * libhalmk: write transactions, the one-pin writes and pulses, through the
 * process's write channel (lib/hmk_cap.c maps it). The contract is in
 * include/halmk.h (include/halmk_tool.h for the typed one-pin writes); the
 * channel's layout and its latch rules are in include/hmk_region.h.
 */
#include "halmk.h"
#include "halmk_tool.h"
#include "hmk_region.h"
#include "halmk_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct hmk_txn {
    hmk_region *r;
    unsigned n;                       /* staged pins */
    uint16_t *idx;                    /* staged indices, in staging order */
    uint64_t *val;                    /* staged encoded values, by pin index */
    uint64_t staged[HMK_MAX_PINS / 64];
};

static uint64_t hmk_encode(const hmk_value *v)
{
    switch (v->type) {
    case HMK_TYPE_BIT:   return v->b ? 1u : 0u;
    case HMK_TYPE_FLOAT: return hmk_enc_float(v->f);
    case HMK_TYPE_S32:   return hmk_enc_s32(v->s);
    default:             return v->u;
    }
}

/* ---- writes ------------------------------------------------------------ */

static int hmk_lock(hmk_region *r)
{
    struct hmk_out_block *b = &r->chan->out;
    int e = pthread_mutex_lock(&b->lock);

    if (e == EOWNERDEAD) {
        /* the previous writer died holding the lock: copy[seq & 1] is
         * complete by the latch invariant, the other copy may be torn.
         * Rewrite the other copy from it while readers stay on it, then run
         * a full write cycle (two flips, every value) so both copies and the
         * per-pin generations are equal again. */
        unsigned good = (unsigned)(atomic_load_explicit(&b->seq, memory_order_relaxed) & 1u);
        unsigned n = r->pin_count;

        for (unsigned i = 0; i < n; i++) {
            atomic_store_explicit(&b->copy[good ^ 1u].value[i],
                atomic_load_explicit(&b->copy[good].value[i], memory_order_relaxed),
                memory_order_relaxed);
            atomic_store_explicit(&b->copy[good ^ 1u].wgen[i],
                atomic_load_explicit(&b->copy[good].wgen[i], memory_order_relaxed),
                memory_order_relaxed);
        }
        for (int round = 0; round < 2; round++) {
            unsigned w = hmk_out_write_flip(b);
            for (unsigned i = 0; i < n; i++) {
                atomic_store_explicit(&b->copy[w].value[i],
                    atomic_load_explicit(&b->copy[w ^ 1u].value[i], memory_order_relaxed),
                    memory_order_relaxed);
                atomic_store_explicit(&b->copy[w].wgen[i],
                    atomic_load_explicit(&b->copy[w ^ 1u].wgen[i], memory_order_relaxed),
                    memory_order_relaxed);
            }
        }
        atomic_fetch_add_explicit(&r->chan->writer_recoveries, 1, memory_order_relaxed);
        e = pthread_mutex_consistent(&b->lock);
    }
    return -e;
}

int hmk_txn_new(hmk_region *r, hmk_txn **out)
{
    hmk_txn *t;

    if (!r || !out)
        return -EINVAL;
    t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->idx = calloc(r->pin_count, sizeof(*t->idx));
    t->val = calloc(r->pin_count, sizeof(*t->val));
    if (!t->idx || !t->val) {
        hmk_txn_free(t);
        return -ENOMEM;
    }
    t->r = r;
    *out = t;
    return 0;
}

void hmk_txn_free(hmk_txn *t)
{
    if (!t)
        return;
    free(t->idx);
    free(t->val);
    free(t);
}

void hmk_txn_clear(hmk_txn *t)
{
    t->n = 0;
    memset(t->staged, 0, sizeof(t->staged));
}

static int hmk_value_check(const struct hmk_pin_desc *p, const hmk_value *v)
{
    if ((unsigned)v->type != p->type)
        return -EINVAL;
    if (v->type == HMK_TYPE_FLOAT && !isfinite(v->f))
        return -ERANGE;
    return 0;
}

int hmk_txn_set(hmk_txn *t, unsigned index, const hmk_value *v)
{
    hmk_region *r = t->r;
    int ret;

    if (index >= r->pin_count)
        return -ERANGE;
    if (r->flags & HMK_OPEN_RDONLY)
        return -EROFS;
    if (!(r->pins[index].dir & HMK_RD_OUT))
        return -EPERM;
    if (r->granted_only && !(r->granted[index / 64] & (1ull << (index % 64))))
        return -EPERM;
    ret = hmk_value_check(&r->pins[index], v);
    if (ret < 0)
        return ret;
    ret = hmk_chan_get(r);
    if (ret < 0)
        return ret;
    if (!(t->staged[index / 64] & (1ull << (index % 64)))) {
        t->staged[index / 64] |= 1ull << (index % 64);
        t->idx[t->n++] = (uint16_t)index;
    }
    t->val[index] = hmk_encode(v);
    return 0;
}

int hmk_txn_commit(hmk_txn *t)
{
    hmk_region *r = t->r;
    struct hmk_out_block *b;
    unsigned n = t->n;
    int ret;

    if (n == 0)
        return 0;
    b = &r->chan->out; /* staging took the channel */
    ret = hmk_lock(r);
    if (ret < 0)
        return ret;
    /* checked under the lock: the bridge detaches before it unmaps, so a
     * commit either lands in a live region or reports -ESTALE */
    ret = hmk_check(r);
    if (ret < 0)
        goto out;
    for (int round = 0; round < 2; round++) {
        unsigned w = hmk_out_write_flip(b);
        for (unsigned k = 0; k < n; k++) {
            unsigned i = t->idx[k];
            atomic_store_explicit(&b->copy[w].value[i], t->val[i], memory_order_relaxed);
            atomic_store_explicit(&b->copy[w].wgen[i],
                atomic_load_explicit(&b->copy[w ^ 1u].wgen[i], memory_order_relaxed) + (round == 0),
                memory_order_relaxed);
        }
    }
    atomic_fetch_add_explicit(&r->chan->commits, 1, memory_order_relaxed);
    ret = (int)n;
out:
    pthread_mutex_unlock(&b->lock);
    hmk_txn_clear(t);
    /* detached while we wrote: the bridge may have stopped reading before
     * our values, so say so rather than report a write HAL may never see */
    if (ret >= 0 && hmk_check(r) < 0)
        ret = -ESTALE;
    return ret;
}

int hmk_write(hmk_region *r, unsigned index, const hmk_value *v)
{
    /* a one-pin transaction on the stack: no allocation per write */
    uint64_t val[HMK_MAX_PINS];
    uint16_t idx[1];
    hmk_txn t;
    int ret;

    memset(&t, 0, sizeof(t));
    t.r = r;
    t.idx = idx;
    t.val = val;
    ret = hmk_txn_set(&t, index, v);
    if (ret >= 0)
        ret = hmk_txn_commit(&t);
    return ret < 0 ? ret : 0;
}

int hmk_write_float(hmk_region *r, unsigned index, double f)
{
    hmk_value v = { .type = HMK_TYPE_FLOAT, .f = f };
    return hmk_write(r, index, &v);
}

int hmk_write_bit(hmk_region *r, unsigned index, bool b)
{
    hmk_value v = { .type = HMK_TYPE_BIT, .b = b };
    return hmk_write(r, index, &v);
}

int hmk_write_s32(hmk_region *r, unsigned index, int32_t s)
{
    hmk_value v = { .type = HMK_TYPE_S32, .s = s };
    return hmk_write(r, index, &v);
}

int hmk_write_u32(hmk_region *r, unsigned index, uint32_t u)
{
    hmk_value v = { .type = HMK_TYPE_U32, .u = u };
    return hmk_write(r, index, &v);
}

/* ---- pulses ------------------------------------------------------------- */

int hmk_pulse(hmk_region *r, unsigned index, const hmk_value *v)
{
    uint64_t val[HMK_MAX_PINS];
    uint16_t idx[1];
    hmk_txn t = { .r = r, .idx = idx, .val = val };
    struct hmk_cmd_ring *c;
    struct hmk_cmd_rec *rec;
    uint64_t tail;
    int ret, e;

    /* the same checks as a write: range, read-only, direction, grant, type */
    ret = hmk_txn_set(&t, index, v);
    if (ret < 0)
        return ret;
    if (r->pins[index].dir == HMK_RD_IO && !(r->pins[index].flags & HMK_PIN_SLOT))
        return -EINVAL; /* an io pin is not driven every cycle: no "one cycle" */
    c = &r->chan->cmd; /* staging took the channel */
    e = pthread_mutex_lock(&c->lock);
    tail = atomic_load_explicit(&c->tail, memory_order_relaxed);
    if (e == EOWNERDEAD) {
        /* a writer died holding the lock: finish its command if it had
         * published the slot, else the slot is simply reused */
        if (atomic_load_explicit(&c->rec[tail % HMK_CMD_DEPTH].seq, memory_order_acquire) == tail + 1)
            atomic_store_explicit(&c->tail, ++tail, memory_order_release);
        pthread_mutex_consistent(&c->lock);
    } else if (e != 0) {
        return -e;
    }
    ret = hmk_check(r);
    if (ret == 0 && tail - atomic_load_explicit(&c->head, memory_order_acquire) >= HMK_CMD_DEPTH)
        ret = -EAGAIN;
    if (ret == 0) {
        rec = &c->rec[tail % HMK_CMD_DEPTH];
        atomic_store_explicit(&rec->seq, 0, memory_order_relaxed);
        atomic_store_explicit(&rec->pin, index, memory_order_relaxed);
        atomic_store_explicit(&rec->kind, HMK_CMD_PULSE, memory_order_relaxed);
        atomic_store_explicit(&rec->value, val[index], memory_order_relaxed);
        atomic_store_explicit(&rec->seq, tail + 1, memory_order_release);
        atomic_store_explicit(&c->tail, tail + 1, memory_order_release);
    }
    pthread_mutex_unlock(&c->lock);
    return ret;
}
