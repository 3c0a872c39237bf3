/*
 * test_merge.c - the bridge's rule for taking out values from the write
 * channels (bridge/hmk_merge.c, compiled in through fake_region.h), driven
 * by libhalmk writers and by hostile writers that store into a channel
 * directly (a service owns its channel's memory: it can write anything):
 *  - a pin a channel is not granted is refused (counted in hdr.rejected)
 *    and never reaches `latched` / in.out_value;
 *  - a NaN or infinity stored raw into a channel is refused;
 *  - a generation seen is used up: a grant given later does not resurrect
 *    a write refused before it;
 *  - a torn grant update keeps the old grants for a cycle;
 *  - a channel whose latch never settles costs a bounded number of reads,
 *    is counted, and does not stop the other channels' writes;
 *  - only out pins are read: a store to an in pin's or an unused slot does
 *    nothing;
 *  - pulses: the library's checks, and a bogus command ring (its head and
 *    tail are in the writer's memory) makes hmk_pulse refuse, not overrun.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "halmk.h"
#include "halmk_tool.h"
#include "fake_region.h"

enum {
    P_SLOTS = 4,          /* pin.0 .. pin.3: float slots (io) */
    P_SPEED = 4,          /* spindle.speed: float in */
    P_ESTOP,              /* estop: bit out */
    P_COUNT,              /* count: s32 io (not a slot) */
    P_POS,                /* pos: u32 out */
    P_N
};

static struct fake_region fx;

static int setup(void **state)
{
    struct hmk_pin_desc pins[P_N];

    fake_slots(pins, P_SLOTS, HMK_RT_FLOAT);
    fake_pin(&pins[P_SPEED], "spindle.speed", HMK_RT_FLOAT, HMK_RD_IN, 0);
    fake_pin(&pins[P_ESTOP], "estop", HMK_RT_BIT, HMK_RD_OUT, 0);
    fake_pin(&pins[P_COUNT], "count", HMK_RT_S32, HMK_RD_IO, 0);
    fake_pin(&pins[P_POS], "pos", HMK_RT_U32, HMK_RD_OUT, 0);
    unsetenv("HMK_WRITE_PINS");
    if (fake_region_create(&fx, pins, P_N, NULL) < 0)
        return -1;
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_region_destroy(&fx);
    return 0;
}

/* A hostile writer's store: a full two-copy write of one pin with a new
 * write generation, without the lock and without any check. */
static void raw_put(struct hmk_chan *c, unsigned i, uint64_t v)
{
    struct hmk_out_block *b = &c->out;

    for (int round = 0; round < 2; round++) {
        unsigned w = hmk_out_write_flip(b);
        atomic_store_explicit(&b->copy[w].value[i], v, memory_order_relaxed);
        atomic_store_explicit(&b->copy[w].wgen[i],
                              atomic_load(&b->copy[w ^ 1u].wgen[i]) + (round == 0),
                              memory_order_relaxed);
    }
}

static hmk_region *open_on_channel(unsigned k)
{
    hmk_region *r = NULL;

    fake_use_channel(&fx, k);
    assert_int_equal(hmk_open(fx.name, 0, &r), 0);
    return r;
}

static uint64_t applied(unsigned i)
{
    return atomic_load(&fx.shm->in.out_value[i]);
}

static uint64_t rejected(void)
{
    return atomic_load(&fx.shm->hdr.rejected);
}

/* ---- grants ----------------------------------------------------------------- */

static void test_merge_init_grants(void **state)
{
    const struct hmk_merge *m = &fx.b->m;
    (void)state;

    /* the out pins, in order; the tools channel has all of them */
    assert_int_equal(m->n_out, P_N - 1);
    for (unsigned i = 0; i < P_N; i++)
        assert_int_equal(hmk_merge_granted(m, 0, i), i != P_SPEED);
    assert_true(m->chan_on[0]);
    /* service channels: nothing until the daemon grants */
    for (unsigned k = 1; k < FAKE_CHANNELS; k++) {
        assert_false(m->chan_on[k]);
        for (unsigned i = 0; i < P_N; i++)
            assert_false(hmk_merge_granted(m, k, i));
    }
    /* and the daemon cannot change the tools channel's grant */
    fake_grant_pins(&fx, 0, (const int[]){ -1 });
    fake_bridge_cycle(&fx);
    assert_true(hmk_merge_granted(m, 0, 1));
}

/* A service's channel granted pin 1 only: its write of pin 2 (the library
 * without $HMK_WRITE_PINS lets it through, as a hostile service would) is
 * refused by the bridge, counted, and never reaches HAL. */
static void test_merge_refuses_ungranted_pin(void **state)
{
    hmk_region *r;
    (void)state;

    fake_grant_pins(&fx, 1, (const int[]){ 1, -1 });
    r = open_on_channel(1);
    assert_int_equal(hmk_write_float(r, 1, 1.5), 0);
    assert_int_equal(hmk_write_float(r, 2, 2.5), 0);
    assert_int_equal(hmk_write_bit(r, P_ESTOP, true), 0);
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(applied(1), hmk_enc_float(1.5));
    assert_int_equal(applied(2), 0);
    assert_int_equal(applied(P_ESTOP), 0);
    assert_int_equal(fx.b->m.latched[2], 0);
    assert_int_equal(fx.b->m.pin_gen[2], 0);
    assert_int_equal(rejected(), 2);
    assert_int_equal(atomic_load(&fx.shm->hdr.out_applied), 1);
    /* a refused write is refused once, not every cycle */
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(rejected(), 2);
    /* a channel granted nothing is not read at all */
    hmk_close(r);
    r = open_on_channel(2);
    assert_int_equal(hmk_write_float(r, 3, 9.0), 0);
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(applied(3), 0);
    assert_int_equal(rejected(), 2);
    hmk_close(r);
}

/* Floats HAL must never see, stored raw (the library refuses them with
 * -ERANGE; a hostile writer skips the library). Other types take any bits. */
static void test_merge_refuses_nonfinite(void **state)
{
    static const uint64_t bad[] = {
        0x7ff8000000000000ull, /* NaN */
        0xfff8000000000000ull, /* -NaN */
        0x7ff0000000000001ull, /* signalling NaN */
        0x7fffffffffffffffull, /* NaN, all payload */
        0x7ff0000000000000ull, /* +inf */
        0xfff0000000000000ull, /* -inf */
    };
    (void)state;

    raw_put(fx.chan[0], 0, hmk_enc_float(1.25));
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(applied(0), hmk_enc_float(1.25));
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        raw_put(fx.chan[0], 0, bad[k]);
        assert_true(fake_bridge_cycle(&fx));
        assert_int_equal(applied(0), hmk_enc_float(1.25));
        assert_int_equal(fx.b->m.latched[0], hmk_enc_float(1.25));
        assert_int_equal(rejected(), k + 1);
    }
    /* the largest finite values pass */
    raw_put(fx.chan[0], 0, 0x7fefffffffffffffull);
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(applied(0), 0x7fefffffffffffffull);
    /* the same bits on a u32 pin are just bits (HAL takes the low 32) */
    raw_put(fx.chan[0], P_POS, 0x7ff8000000000000ull);
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(applied(P_POS), 0x7ff8000000000000ull);
    assert_int_equal(rejected(), sizeof(bad) / sizeof(bad[0]));
    {
        hmk_region *r = open_on_channel(0);
        hmk_value v;
        assert_int_equal(hmk_read_out(r, P_POS, &v), 0);
        assert_int_equal(v.u, 0);
        hmk_close(r);
    }
}

/* A write refused for want of a grant stays refused: the grant that comes
 * later applies only writes made after it. */
static void test_merge_stale_generation_not_resurrected(void **state)
{
    hmk_region *r;
    (void)state;

    fake_grant_pins(&fx, 1, (const int[]){ 1, -1 });
    r = open_on_channel(1);
    assert_int_equal(hmk_write_float(r, 2, 5.0), 0);
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(rejected(), 1);
    fake_grant_pins(&fx, 1, (const int[]){ 1, 2, -1 });
    assert_true(fake_bridge_cycle(&fx));
    assert_true(hmk_merge_granted(&fx.b->m, 1, 2));
    assert_int_equal(applied(2), 0);
    assert_int_equal(rejected(), 1);
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(applied(2), 0);
    /* a new write after the grant is taken */
    assert_int_equal(hmk_write_float(r, 2, 6.0), 0);
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(applied(2), hmk_enc_float(6.0));
    hmk_close(r);
}

/* The same promise when the channel had no grant at all while it was
 * written (revoked, e.g. its service stopped, then granted again, possibly
 * to the next service the daemon hands the channel to). */
static void test_merge_write_while_ungranted_channel_not_resurrected(void **state)
{
    hmk_region *r;
    (void)state;

    fake_grant_pins(&fx, 1, (const int[]){ 1, -1 });
    r = open_on_channel(1);
    assert_int_equal(hmk_write_float(r, 1, 1.0), 0);
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(applied(1), hmk_enc_float(1.0));
    fake_grant_pins(&fx, 1, (const int[]){ -1 });    /* revoked */
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(hmk_write_float(r, 1, 66.0), 0); /* written while revoked */
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(applied(1), hmk_enc_float(1.0));
    fake_grant_pins(&fx, 1, (const int[]){ 1, -1 }); /* granted again */
    assert_true(fake_bridge_cycle(&fx));
    /* a channel once granted stays read: the write made while revoked was
     * used up (refused) then, and is not applied now */
    assert_int_equal(applied(1), hmk_enc_float(1.0));
    hmk_close(r);
}

/* The daemon is updating the grants (odd seqlock counter): the bridge
 * keeps the old ones this cycle and takes the new ones once complete. */
static void test_merge_torn_grant_keeps_old(void **state)
{
    hmk_region *r;
    uint64_t s;
    (void)state;

    fake_grant_pins(&fx, 1, (const int[]){ 1, -1 });
    assert_true(fake_bridge_cycle(&fx));
    s = atomic_load(&fx.ctl->grant_seq);
    atomic_store(&fx.ctl->grant_seq, s + 1);
    atomic_store(&fx.ctl->grant[1][0], 1ull << 2);   /* half-way: pin 2, not 1 */
    r = open_on_channel(1);
    assert_int_equal(hmk_write_float(r, 1, 4.0), 0);
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(applied(1), hmk_enc_float(4.0)); /* old grant still */
    assert_false(hmk_merge_granted(&fx.b->m, 1, 2));
    atomic_store(&fx.ctl->grant_seq, s + 2);
    assert_true(fake_bridge_cycle(&fx));
    assert_false(hmk_merge_granted(&fx.b->m, 1, 1));
    assert_true(hmk_merge_granted(&fx.b->m, 1, 2));
    hmk_close(r);
}

/* ---- hostile channels -------------------------------------------------------- */

struct flipper {
    struct hmk_chan *c;
    _Atomic int stop;
    pthread_t th;
};

/* Flips the latch without end: a bridge read of this channel never sees
 * the same counter twice, if the timing falls that way. */
static void *flipper_main(void *arg)
{
    struct flipper *f = arg;
    uint64_t n = 0;

    while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
        unsigned w = hmk_out_write_flip(&f->c->out);
        atomic_store_explicit(&f->c->out.copy[w].value[1], hmk_enc_float((double)(n & 0xff)),
                              memory_order_relaxed);
        atomic_store_explicit(&f->c->out.copy[w].wgen[1], (uint32_t)++n, memory_order_relaxed);
    }
    return NULL;
}

static void test_merge_hostile_latch_is_bounded_and_isolated(void **state)
{
    struct flipper f = { .c = fx.chan[1] };
    unsigned cycles = 0, misses = 0;
    uint64_t t_end, worst = 0;
    hmk_region *r;
    (void)state;

    fake_grant_pins(&fx, 1, (const int[]){ 1, -1 });
    r = open_on_channel(0);
    assert_int_equal(pthread_create(&f.th, NULL, flipper_main, &f), 0);
    t_end = fake_now_ns() + 1000000000ull;
    while (fake_now_ns() < t_end || cycles < 1000) {
        uint64_t t0;
        assert_int_equal(hmk_write_s32(r, P_COUNT, (int32_t)cycles), 0);
        t0 = fake_now_ns();
        if (!fake_bridge_cycle(&fx))
            misses++;
        if (fake_now_ns() - t0 > worst)
            worst = fake_now_ns() - t0;
        /* the tools channel's write got through, every cycle */
        assert_int_equal(applied(P_COUNT), hmk_enc_s32((int32_t)cycles));
        cycles++;
    }
    atomic_store(&f.stop, 1);
    pthread_join(f.th, NULL);
    print_message("hostile latch: %u cycles, %u latch misses, %llu torn retries, worst "
                  "cycle %llu us\n", cycles, misses,
                  (unsigned long long)atomic_load(&fx.shm->hdr.torn_retries),
                  (unsigned long long)(worst / 1000));
    assert_int_equal(atomic_load(&fx.shm->hdr.latch_misses), misses);
    hmk_close(r);
}

/* Only out pins are read: what a channel stores for an in pin, or for a
 * slot past the pin table, is never looked at. */
static void test_merge_reads_out_pins_only(void **state)
{
    (void)state;
    raw_put(fx.chan[0], P_SPEED, hmk_enc_float(123.0));
    raw_put(fx.chan[0], P_N, 77);
    raw_put(fx.chan[0], HMK_MAX_PINS - 1, 78);
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(applied(P_SPEED), 0);
    assert_int_equal(applied(P_N), 0);
    assert_int_equal(applied(HMK_MAX_PINS - 1), 0);
    assert_int_equal(fx.b->m.latched[P_SPEED], 0);
    assert_int_equal(rejected(), 0);
    assert_int_equal(atomic_load(&fx.shm->hdr.out_applied), 0);
}

/* Two channels write one pin in the same cycle: both writes are taken, in
 * channel order (the later channel's value is what HAL gets). */
static void test_merge_two_channels_one_pin(void **state)
{
    (void)state;
    fake_grant_pins(&fx, 1, (const int[]){ 1, -1 });
    fake_bridge_cycle(&fx);
    raw_put(fx.chan[1], 1, hmk_enc_float(11.0));
    raw_put(fx.chan[0], 1, hmk_enc_float(10.0));
    assert_true(fake_bridge_cycle(&fx));
    assert_int_equal(applied(1), hmk_enc_float(11.0));
    assert_int_equal(fx.b->m.pin_gen[1], 2);
    assert_int_equal(atomic_load(&fx.shm->hdr.out_applied), 2);
}

/* ---- pulses ------------------------------------------------------------------- */

static void test_merge_pulse_checks_and_record(void **state)
{
    struct hmk_cmd_ring *c = &fx.chan[0]->cmd;
    hmk_region *r = open_on_channel(0);
    hmk_value f = { .type = HMK_TYPE_FLOAT, .f = 2.0 };
    (void)state;

    assert_int_equal(hmk_pulse(r, 1, &f), 0);
    assert_int_equal(atomic_load(&c->tail), 1);
    assert_int_equal(atomic_load(&c->rec[0].seq), 1);
    assert_int_equal(atomic_load(&c->rec[0].pin), 1);
    assert_int_equal(atomic_load(&c->rec[0].kind), HMK_CMD_PULSE);
    assert_int_equal(atomic_load(&c->rec[0].value), hmk_enc_float(2.0));
    assert_int_equal(hmk_pulse(r, P_SPEED, &f), -EPERM);            /* in pin */
    assert_int_equal(hmk_pulse(r, P_COUNT, &(hmk_value){ .type = HMK_TYPE_S32, .s = 1 }),
                     -EINVAL);                                      /* io, not a slot */
    assert_int_equal(hmk_pulse(r, 1, &(hmk_value){ .type = HMK_TYPE_FLOAT, .f = NAN }), -ERANGE);
    assert_int_equal(hmk_pulse(r, P_N, &f), -ERANGE);
    assert_int_equal(hmk_pulse(r, P_ESTOP, &f), -EINVAL);           /* wrong type */
    assert_int_equal(atomic_load(&c->tail), 1);
    hmk_close(r);
}

/* The ring's head and tail live in the channel: a writer (the service
 * itself) can set them to anything. hmk_pulse must then refuse (-EAGAIN:
 * "full") and store nothing out of place. The bridge's drain (in
 * bridge/hal_microkernel_bridge.c, with HAL) keeps its own head and takes at
 * most HMK_CMD_PER_CYCLE records a cycle whatever the tail says. */
static void test_merge_pulse_bogus_ring(void **state)
{
    struct hmk_cmd_ring *c = &fx.chan[0]->cmd;
    hmk_region *r = open_on_channel(0);
    hmk_value f = { .type = HMK_TYPE_FLOAT, .f = 2.0 };
    static const uint64_t tails[][2] = {
        { UINT64_MAX, 0 }, { 1ull << 63, 0 }, { HMK_CMD_DEPTH, 0 }, { 0, 1 }, { 5, 10 },
    };
    (void)state;

    for (size_t k = 0; k < sizeof(tails) / sizeof(tails[0]); k++) {
        atomic_store(&c->tail, tails[k][0]);
        atomic_store(&c->head, tails[k][1]);
        for (unsigned i = 0; i < HMK_CMD_DEPTH; i++)
            atomic_store(&c->rec[i].seq, 0);
        assert_int_equal(hmk_pulse(r, 1, &f), -EAGAIN);
        assert_int_equal(atomic_load(&c->tail), tails[k][0]);
        for (unsigned i = 0; i < HMK_CMD_DEPTH; i++)
            assert_int_equal(atomic_load(&c->rec[i].seq), 0);
    }
    /* a huge but consistent position is fine: the slot is position % depth */
    atomic_store(&c->tail, UINT64_MAX - 1);
    atomic_store(&c->head, UINT64_MAX - 1);
    assert_int_equal(hmk_pulse(r, 1, &f), 0);
    assert_int_equal(atomic_load(&c->rec[(UINT64_MAX - 1) % HMK_CMD_DEPTH].seq), UINT64_MAX);
    hmk_close(r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_merge_init_grants),
        T(test_merge_refuses_ungranted_pin),
        T(test_merge_refuses_nonfinite),
        T(test_merge_stale_generation_not_resurrected),
        T(test_merge_write_while_ungranted_channel_not_resurrected),
        T(test_merge_torn_grant_keeps_old),
        T(test_merge_hostile_latch_is_bounded_and_isolated),
        T(test_merge_reads_out_pins_only),
        T(test_merge_two_channels_one_pin),
        T(test_merge_pulse_checks_and_record),
        T(test_merge_pulse_bogus_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
