/*
 * edgestamp - benchmark-only realtime component: a change in HAL with the
 * time it was made.
 *
 *   loadrt edgestamp [min_cycles=10] [max_cycles=30]
 *   addf edgestamp.update servo-thread      (before the observed functions)
 *
 * Every min_cycles..max_cycles cycles (a pseudo-random spacing, so that a
 * polling observer cannot lock onto the phase of the changes) the function
 * sets the float pin edgestamp.stamp to CLOCK_MONOTONIC in nanoseconds, read
 * in the servo thread at the moment of the change, and counts the change in
 * edgestamp.changes. An observer that sees the pin change computes its
 * latency as (its own CLOCK_MONOTONIC) - (the pin's value): one clock, read
 * by HAL and by the observer, for every way of observing. A double holds
 * nanoseconds exactly up to 2^53 ns (104 days of uptime).
 *
 * Built with halcompile by bench/run.sh at bench time; never installed by
 * the normal build.
 */
#include "rtapi.h"
#include "rtapi_app.h"
#include "hal.h"

#include <time.h>

MODULE_AUTHOR("hal-microkernel developers");
MODULE_DESCRIPTION("benchmark: a pin that changes to the time of its change");
MODULE_LICENSE("GPL");

static int min_cycles = 10;
RTAPI_MP_INT(min_cycles, "fewest cycles between changes (1..100000)");
static int max_cycles = 30;
RTAPI_MP_INT(max_cycles, "most cycles between changes (min_cycles..100000)");

struct edge_pins {
    hal_float_t *stamp;
    hal_u32_t *changes;
};

static int comp_id = -1;
static struct edge_pins *pins;
static unsigned left = 1;
static unsigned rng = 0x9e3779b9u;

static void edge_update(void *arg, long period)
{
    struct timespec ts;

    (void)arg;
    (void)period;
    if (--left > 0)
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    *pins->stamp = (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
    *pins->changes += 1;
    /* xorshift32: a spacing independent of any observer's period */
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    left = (unsigned)min_cycles + rng % (unsigned)(max_cycles - min_cycles + 1);
}

int rtapi_app_main(void)
{
    int r;

    if (min_cycles < 1 || min_cycles > 100000 || max_cycles < min_cycles || max_cycles > 100000) {
        rtapi_print_msg(RTAPI_MSG_ERR, "edgestamp: need 1 <= min_cycles <= max_cycles <= 100000\n");
        return -EINVAL;
    }
    comp_id = hal_init("edgestamp");
    if (comp_id < 0)
        return comp_id;
    pins = hal_malloc(sizeof(*pins));
    if (!pins) {
        hal_exit(comp_id);
        return -ENOMEM;
    }
    r = hal_pin_float_new("edgestamp.stamp", HAL_OUT, &pins->stamp, comp_id);
    if (r == 0)
        r = hal_pin_u32_new("edgestamp.changes", HAL_OUT, &pins->changes, comp_id);
    if (r == 0)
        r = hal_export_funct("edgestamp.update", edge_update, NULL, 1, 0, comp_id);
    if (r != 0) {
        rtapi_print_msg(RTAPI_MSG_ERR, "edgestamp: cannot create pins or function (%d)\n", r);
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
