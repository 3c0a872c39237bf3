/* test_ratelog.c - the per-service log limiter: a burst goes through, the
 * rest of the window is counted, the count is reported exactly once when
 * the next window opens or on a flush, and a quiet source starts afresh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ratelog.h"

static void test_ratelog_burst_then_suppress(void **state)
{
    struct ratelog r = { 0 };
    unsigned rep, allowed = 0;
    (void)state;

    for (unsigned i = 0; i < 1000; i++) {
        allowed += ratelog_allow(&r, 5000 + i, &rep);
        assert_int_equal(rep, 0);
    }
    assert_int_equal(allowed, RATELOG_BURST);
    assert_int_equal(r.suppressed, 1000 - RATELOG_BURST);
}

static void test_ratelog_reports_once_per_window(void **state)
{
    struct ratelog r = { 0 };
    unsigned rep, total = 0, reports = 0, allowed = 0;
    uint64_t t;
    (void)state;

    /* a crash loop: one line every 10 ms for ten windows */
    for (t = 0; t < 10ull * RATELOG_WINDOW_MS; t += 10) {
        allowed += ratelog_allow(&r, t, &rep);
        total += rep;
        reports += rep != 0;
    }
    total += ratelog_flush(&r);
    assert_int_equal(allowed, 10 * RATELOG_BURST);
    assert_int_equal(reports, 9);          /* each window but the last, at its end */
    assert_int_equal(allowed + total, t / 10); /* every line logged or counted */
    assert_int_equal(ratelog_flush(&r), 0); /* counted once only */
}

static void test_ratelog_quiet_source_starts_afresh(void **state)
{
    struct ratelog r = { 0 };
    unsigned rep;
    (void)state;

    for (unsigned i = 0; i < RATELOG_BURST + 3; i++)
        ratelog_allow(&r, 100, &rep);
    /* long after: the three held back are reported, and the line goes out */
    assert_true(ratelog_allow(&r, 100 + 5 * RATELOG_WINDOW_MS, &rep));
    assert_int_equal(rep, 3);
    assert_true(ratelog_allow(&r, 101 + 5 * RATELOG_WINDOW_MS, &rep));
    assert_int_equal(rep, 0);
}

static void test_ratelog_flush_before_final_line(void **state)
{
    struct ratelog r = { 0 };
    unsigned rep;
    (void)state;

    for (unsigned i = 0; i < RATELOG_BURST + 7; i++)
        ratelog_allow(&r, 0, &rep);
    assert_int_equal(ratelog_flush(&r), 7);
    assert_false(ratelog_allow(&r, 1, &rep)); /* the window's budget stays spent */
    assert_int_equal(rep, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelog_burst_then_suppress),
        cmocka_unit_test(test_ratelog_reports_once_per_window),
        cmocka_unit_test(test_ratelog_quiet_source_starts_afresh),
        cmocka_unit_test(test_ratelog_flush_before_final_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
