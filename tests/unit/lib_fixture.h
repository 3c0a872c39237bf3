/*
 * lib_fixture.h - the pin layout and fixture test_lib.c, test_channel.c and
 * test_wait.c share: a fake region (tests/unit/fake_region.h) with four float
 * slots and one pin of each other kind, opened through libhalmk.
 */
#ifndef LIB_FIXTURE_H
#define LIB_FIXTURE_H

#include "halmk.h"
#include "fake_region.h"

enum {
    P_SLOTS = 4,          /* pin.0 .. pin.3: float slots (io) */
    P_SPEED = 4,          /* spindle.speed: float in */
    P_ESTOP,              /* estop: bit out */
    P_COUNT,              /* count: s32 io */
    P_POS,                /* pos: u32 out */
    P_FLAG,               /* flag: bit io */
    P_N
};

static struct fake_region fx;

static inline void fixture_pins(struct hmk_pin_desc *pins)
{
    fake_slots(pins, P_SLOTS, HMK_RT_FLOAT);
    fake_pin(&pins[P_SPEED], "spindle.speed", HMK_RT_FLOAT, HMK_RD_IN, 0);
    fake_pin(&pins[P_ESTOP], "estop", HMK_RT_BIT, HMK_RD_OUT, 0);
    fake_pin(&pins[P_COUNT], "count", HMK_RT_S32, HMK_RD_IO, 0);
    fake_pin(&pins[P_POS], "pos", HMK_RT_U32, HMK_RD_OUT, 0);
    fake_pin(&pins[P_FLAG], "flag", HMK_RT_BIT, HMK_RD_IO, 0);
}

static inline int setup(void **state)
{
    struct hmk_pin_desc pins[P_N];

    fixture_pins(pins);
    unsetenv("HMK_WRITE_PINS");
    unsetenv("HAL_MICROKERNEL_REGION");
    if (fake_region_create(&fx, pins, P_N, NULL) < 0)
        return -1;
    *state = &fx;
    return 0;
}

static inline int teardown(void **state)
{
    (void)state;
    unsetenv("HMK_WRITE_PINS");
    fake_region_destroy(&fx);
    return 0;
}

static inline hmk_region *open_ok(unsigned flags)
{
    hmk_region *r = NULL;
    assert_int_equal(hmk_open(fx.name, flags, &r), 0);
    assert_non_null(r);
    return r;
}

static inline int open_err(void)
{
    hmk_region *r = (hmk_region *)0x1;
    int ret = hmk_open(fx.name, 0, &r);
    if (ret == 0)
        hmk_close(r);
    return ret;
}

/* A byte image of what a write can change: the tools channel's latch and
 * commit count, the applied out values and the change word, to prove that
 * something changed nothing. */
struct out_image {
    uint64_t seq;
    uint64_t commits;
    uint32_t change_word;
    uint64_t applied;
    struct hmk_out_copy copy[2];
    uint64_t out_value[HMK_MAX_PINS];
};

static inline void out_image(struct out_image *im)
{
    const struct hmk_chan *c = fx.chan[0];

    memset(im, 0, sizeof(*im));
    im->seq = atomic_load(&c->out.seq);
    im->commits = atomic_load(&c->commits);
    im->change_word = atomic_load(&fx.shm->hdr.change_word);
    im->applied = atomic_load(&fx.shm->hdr.out_applied);
    for (int k = 0; k < 2; k++)
        for (unsigned i = 0; i < HMK_MAX_PINS; i++) {
            atomic_store_explicit(&im->copy[k].value[i],
                                  atomic_load(&c->out.copy[k].value[i]), memory_order_relaxed);
            atomic_store_explicit(&im->copy[k].wgen[i],
                                  atomic_load(&c->out.copy[k].wgen[i]), memory_order_relaxed);
        }
    for (unsigned i = 0; i < HMK_MAX_PINS; i++)
        im->out_value[i] = atomic_load(&fx.shm->in.out_value[i]);
}

static inline void assert_out_unchanged(const struct out_image *before)
{
    static struct out_image now;
    out_image(&now);
    assert_memory_equal(&now, before, sizeof(now));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

#endif
