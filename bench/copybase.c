/*
 * copybase - benchmark-only realtime component: the baseline for the
 * bridge's cost in the servo thread. It copies `count` float in pins to
 * `count` float out pins, which is what the bridge does for `count` slots
 * minus the shared-memory region (no seqlock, no change detection, no
 * clock reads).
 *
 *   loadrt copybase count=N
 *   addf copybase.copy servo-thread
 *
 * Pins copybase.in.K (in) and copybase.out.K (out), K = 0..N-1; HAL's own
 * copybase.copy.time pin gives its cost per cycle. Built with halcompile by
 * bench/run.sh at bench time; never installed by the normal build.
 */
#include "rtapi.h"
#include "rtapi_app.h"
#include "hal.h"

MODULE_AUTHOR("hal-microkernel developers");
MODULE_DESCRIPTION("benchmark baseline: copy N float pins in to out");
MODULE_LICENSE("GPL");

static int count = 16;
RTAPI_MP_INT(count, "number of in/out pin pairs (1..1024)");

struct copy_pins {
    hal_float_t *in;
    hal_float_t *out;
};

static int comp_id = -1;
static struct copy_pins *pins;

static void copy_all(void *arg, long period)
{
    (void)arg;
    (void)period;
    for (int i = 0; i < count; i++)
        *pins[i].out = *pins[i].in;
}

int rtapi_app_main(void)
{
    int r = 0;

    if (count < 1 || count > 1024) {
        rtapi_print_msg(RTAPI_MSG_ERR, "copybase: count=%d is not 1..1024\n", count);
        return -EINVAL;
    }
    comp_id = hal_init("copybase");
    if (comp_id < 0)
        return comp_id;
    pins = hal_malloc((unsigned long)count * sizeof(*pins));
    if (!pins)
        r = -ENOMEM;
    for (int i = 0; r == 0 && i < count; i++) {
        r = hal_pin_float_newf(HAL_IN, &pins[i].in, comp_id, "copybase.in.%d", i);
        if (r == 0)
            r = hal_pin_float_newf(HAL_OUT, &pins[i].out, comp_id, "copybase.out.%d", i);
    }
    if (r == 0)
        r = hal_export_funct("copybase.copy", copy_all, NULL, 1, 0, comp_id);
    if (r != 0) {
        rtapi_print_msg(RTAPI_MSG_ERR, "copybase: cannot create pins or function (%d)\n", r);
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
