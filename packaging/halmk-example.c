/* halmk-example.c - the smallest libhalmk client: read a pin, or write one
 * and read back what HAL now has.
 *
 *   cc halmk-example.c $(pkg-config --cflags --libs halmk) -o halmk-example
 *   halmk-example pin.0            prints pin.0's value
 *   halmk-example pin.1 12.5       writes 12.5 to a float pin, waits until
 *                                  the bridge applied it, prints it
 *
 * The region is $HAL_MICROKERNEL_REGION or hal-microkernel. Writing needs a
 * write channel: root, or a member of the daemon's writer-group. */
#include <stdio.h>
#include <stdlib.h>

#include <halmk.h>

static int fail(const char *what, const char *arg, int err)
{
    fprintf(stderr, "halmk-example: %s '%s': %s\n", what, arg, hmk_strerror(err));
    return 1;
}

int main(int argc, char **argv)
{
    hmk_region *r;
    hmk_value v, w = { .type = HMK_TYPE_FLOAT };
    char *end;
    int idx, ret;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: halmk-example PIN [FLOAT]\n");
        return 2;
    }
    if (argc == 3 && (w.f = strtod(argv[2], &end), end == argv[2] || *end)) {
        fprintf(stderr, "halmk-example: value '%s': not a number\n", argv[2]);
        return 2;
    }
    ret = hmk_open(NULL, argc == 3 ? 0 : HMK_OPEN_RDONLY, &r);
    if (ret < 0)
        return fail("region", getenv("HAL_MICROKERNEL_REGION") ? getenv("HAL_MICROKERNEL_REGION")
                                                              : "hal-microkernel", ret);
    idx = hmk_pin_find(r, argv[1]);
    if (idx < 0)
        ret = idx;
    else if (argc == 3 && (ret = hmk_write(r, (unsigned)idx, &w)) >= 0 &&
             (ret = hmk_sync(r, 5000)) >= 0)
        ret = hmk_read_out(r, (unsigned)idx, &v);
    else if (argc == 2)
        ret = hmk_read(r, (unsigned)idx, &v);
    if (ret >= 0 && v.type != HMK_TYPE_FLOAT)
        printf("%lld\n", v.type == HMK_TYPE_BIT ? (long long)v.b
                         : v.type == HMK_TYPE_S32 ? (long long)v.s : (long long)v.u);
    else if (ret >= 0)
        printf("%g\n", v.f);
    hmk_close(r);
    return ret < 0 ? fail("pin", argv[1], ret) : 0;
}
