/*
 * test_write_granted.c - hmk_write_granted (include/halmk.h): for every pin
 * of the fake region (tests/unit/lib_fixture.h) and every way a process can
 * be granted pins ($HMK_WRITE_PINS unset, a list, empty; a read-only
 * handle), it answers exactly what a write of that pin then does: 1 where
 * the write passes the grant checks, 0 where it is refused with -EPERM or
 * -EROFS. halweb shows write controls from it, so a pin it calls writable
 * must be writable and the other way round.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "halmk.h"
#include "lib_fixture.h"

/* What a write of pin i does to the grant question: 1 passed, 0 refused. */
static int write_passes(hmk_region *r, unsigned i)
{
    struct hmk_pin_info info;
    hmk_value v = { 0 };
    int ret;

    assert_int_equal(hmk_pin_info(r, i, &info), 0);
    v.type = info.type;
    ret = hmk_write(r, i, &v);
    if (ret == -EPERM || ret == -EROFS)
        return 0;
    assert_int_equal(ret, 0);
    return 1;
}

/* granted[i] is what the test expects; the write must agree with it. */
static void check_all(unsigned flags, const int granted[P_N])
{
    hmk_region *r = open_ok(flags);

    for (unsigned i = 0; i < P_N; i++) {
        assert_int_equal(hmk_write_granted(r, i), granted[i]);
        assert_int_equal(write_passes(r, i), granted[i]);
    }
    assert_int_equal(hmk_write_granted(r, P_N), -ERANGE);
    assert_int_equal(hmk_write_granted(r, 4096), -ERANGE);
    hmk_close(r);
}

static void test_no_grant_list_every_out_pin(void **state)
{
    /* pin.0..3 io slots, speed in, estop out, count io, pos out, flag io */
    const int want[P_N] = { 1, 1, 1, 1, 0, 1, 1, 1, 1 };
    (void)state;
    check_all(0, want);
}

static void test_grant_list_only_named_out_pins(void **state)
{
    /* spindle.speed is named but HAL feeds it: still not writable */
    const int want[P_N] = { 0, 1, 0, 0, 0, 1, 0, 0, 1 };
    (void)state;
    setenv("HMK_WRITE_PINS", "pin.1, estop,flag spindle.speed", 1);
    check_all(0, want);
}

static void test_empty_grant_or_rdonly_nothing(void **state)
{
    const int none[P_N] = { 0 };
    (void)state;
    setenv("HMK_WRITE_PINS", "", 1);
    check_all(0, none);
    unsetenv("HMK_WRITE_PINS");
    check_all(HMK_OPEN_RDONLY, none);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    assert_int_equal(hmk_write_granted(NULL, 0), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_no_grant_list_every_out_pin),
        T(test_grant_list_only_named_out_pins),
        T(test_empty_grant_or_rdonly_nothing),
        T(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
