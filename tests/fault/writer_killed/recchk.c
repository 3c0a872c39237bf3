/*
 * recchk - test-only realtime component: checks, inside HAL and on every
 * servo cycle, that `count` float pins hold one whole halstress record
 * (see tools/halstress.c; the code: tools/halstress_child.c, "the record"):
 *
 *   pin j < count-1 = tag * 1024 + j,  pin count-1 = (~tag mod 2^43) * 1024 + count-1
 *
 *   loadrt recchk count=K
 *   addf recchk.check servo-thread          (after microkernel.write)
 *
 * Pins: recchk.in.J (float in); recchk.checked (u32 out, cycles checked),
 * recchk.torn (u32 out, cycles whose values were not one record),
 * recchk.changes (u32 out, cycles whose record differed from the cycle
 * before), recchk.first-bad (s32 out, position of the first mismatch in the
 * last torn cycle, -1 if none). Cycles with every pin 0 (before the first
 * record) are not counted. Built with halcompile by the fault test that
 * uses it; never installed by the normal build.
 */
#include "rtapi.h"
#include "rtapi_app.h"
#include "hal.h"

MODULE_AUTHOR("hal-microkernel developers");
MODULE_DESCRIPTION("test: check a halstress record on every servo cycle");
MODULE_LICENSE("GPL");

static int count = 8;
RTAPI_MP_INT(count, "pins in a record (2..1024)");

#define RECCHK_SPAN 1024ull
#define RECCHK_TAG_MASK ((1ull << 43) - 1)

struct recchk {
    hal_u32_t *checked, *torn, *changes;
    hal_s32_t *first_bad;
    hal_float_t **in;
    unsigned long long last_tag;
};

static int comp_id = -1;
static struct recchk *rc;

/* The tag value v carries at position j, or ~0 if v is no record value there. */
static unsigned long long recchk_decode(double v, int j)
{
    unsigned long long t;

    if (!(v >= 0.0 && v < 9007199254740992.0))
        return ~0ull;
    t = (unsigned long long)v;
    if ((double)t != v || t % RECCHK_SPAN != (unsigned long long)j)
        return ~0ull;
    t /= RECCHK_SPAN;
    return j == count - 1 ? (~t & RECCHK_TAG_MASK) : t;
}

static void recchk_check(void *arg, long period)
{
    unsigned long long t0;
    int zero = 1, bad = -1;

    (void)arg;
    (void)period;
    for (int j = 0; j < count; j++)
        zero &= *rc->in[j] == 0.0;
    if (zero)
        return;
    t0 = recchk_decode(*rc->in[0], 0);
    for (int j = 0; bad < 0 && j < count; j++)
        if (t0 == ~0ull || recchk_decode(*rc->in[j], j) != t0)
            bad = j;
    (*rc->checked)++;
    if (bad >= 0) {
        (*rc->torn)++;
        *rc->first_bad = bad;
        return;
    }
    if (t0 != rc->last_tag)
        (*rc->changes)++;
    rc->last_tag = t0;
}

static int recchk_pins(void)
{
    int r = hal_pin_u32_newf(HAL_OUT, &rc->checked, comp_id, "recchk.checked");

    if (r == 0)
        r = hal_pin_u32_newf(HAL_OUT, &rc->torn, comp_id, "recchk.torn");
    if (r == 0)
        r = hal_pin_u32_newf(HAL_OUT, &rc->changes, comp_id, "recchk.changes");
    if (r == 0)
        r = hal_pin_s32_newf(HAL_OUT, &rc->first_bad, comp_id, "recchk.first-bad");
    for (int j = 0; r == 0 && j < count; j++)
        r = hal_pin_float_newf(HAL_IN, &rc->in[j], comp_id, "recchk.in.%d", j);
    return r;
}

int rtapi_app_main(void)
{
    int r = 0;

    if (count < 2 || count > 1024) {
        rtapi_print_msg(RTAPI_MSG_ERR, "recchk: count=%d is not 2..1024\n", count);
        return -EINVAL;
    }
    comp_id = hal_init("recchk");
    if (comp_id < 0)
        return comp_id;
    rc = hal_malloc(sizeof(*rc));
    if (rc)
        rc->in = hal_malloc((unsigned long)count * sizeof(*rc->in));
    if (!rc || !rc->in)
        r = -ENOMEM;
    if (r == 0)
        r = recchk_pins();
    if (r == 0) {
        *rc->first_bad = -1;
        rc->last_tag = ~0ull;
        r = hal_export_funct("recchk.check", recchk_check, NULL, 1, 0, comp_id);
    }
    if (r != 0) {
        rtapi_print_msg(RTAPI_MSG_ERR, "recchk: cannot create pins or function (%d)\n", r);
        hal_exit(comp_id);
        return r;
    }
    hal_ready(comp_id);
    return 0;
}

void rtapi_app_exit(void)
{
    hal_exit(comp_id);
}
