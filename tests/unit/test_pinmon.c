/* test_pinmon.c - the pin monitor's rate bound and change detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>

#include "pinmon.h"

static void test_bucket(void **state)
{
    struct pinmon_bucket b;
    unsigned ok = 0;
    (void)state;

    pinmon_bucket_init(&b, 10, 1000);
    /* a burst: one second's worth passes, the rest is counted */
    for (int i = 0; i < 100; i++)
        ok += pinmon_bucket_take(&b, 1000);
    assert_int_equal(ok, 10);
    assert_int_equal(b.suppressed, 90);
    /* no token yet: no summary line either */
    assert_int_equal(pinmon_bucket_flush(&b, 1000), 0);
    assert_int_equal(pinmon_bucket_flush(&b, 1100), 90); /* one token back: report */
    assert_int_equal(b.suppressed, 0);
    assert_int_equal(pinmon_bucket_flush(&b, 1100), 0);
    /* 100 ms later again: one more token */
    assert_true(pinmon_bucket_take(&b, 1200));
    assert_false(pinmon_bucket_take(&b, 1200));
    /* a long pause refills only up to the burst */
    ok = 0;
    for (int i = 0; i < 100; i++)
        ok += pinmon_bucket_take(&b, 100000);
    assert_int_equal(ok, 10);
    /* steady: over 10 s at 100 changes/s, about 10/s + the burst pass */
    pinmon_bucket_init(&b, 10, 0);
    ok = 0;
    for (uint64_t t = 0; t < 10000; t += 10)
        ok += pinmon_bucket_take(&b, t);
    assert_true(ok >= 105 && ok <= 111);
    /* time going backwards (never with CLOCK_MONOTONIC) does not add tokens */
    pinmon_bucket_init(&b, 1, 5000);
    assert_true(pinmon_bucket_take(&b, 5000));
    assert_false(pinmon_bucket_take(&b, 1000));
}

static void test_equal(void **state)
{
    hmk_value a = { .type = HMK_TYPE_FLOAT, .f = 1.5 }, b = a;
    (void)state;

    assert_true(pinmon_value_equal(&a, &b));
    b.f = 1500;
    assert_false(pinmon_value_equal(&a, &b));
    a.f = NAN;
    b.f = NAN;
    assert_true(pinmon_value_equal(&a, &b)); /* NaN staying NaN is no change */
    a = (hmk_value){ .type = HMK_TYPE_BIT, .b = true };
    b = (hmk_value){ .type = HMK_TYPE_S32, .s = 1 };
    assert_false(pinmon_value_equal(&a, &b));
    b = (hmk_value){ .type = HMK_TYPE_BIT, .b = false };
    assert_false(pinmon_value_equal(&a, &b));
}

static void test_format(void **state)
{
    static const struct { double f; const char *s; } cases[] = {
        { 0, "0" }, { 1500, "1500" }, { -2.5, "-2.5" }, { 0.1, "0.1" }, { 1.0 / 3, "0.3333333333333333" },
        { 2.5e-7, "2.5e-07" }, { 1e300, "1e+300" },
    };
    char buf[48];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hmk_value v = { .type = HMK_TYPE_FLOAT, .f = cases[i].f };
        assert_true(pinmon_format(&v, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, cases[i].s);
    }
    {
        hmk_value v = { .type = HMK_TYPE_FLOAT, .f = 1.0 / 3 };
        assert_int_equal(pinmon_format(&v, buf, 4), -ENOSPC);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_bucket), cmocka_unit_test(test_equal),
                                        cmocka_unit_test(test_format) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
