/* test_hours.c - spindle-hours' accumulator and state file text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hours.h"

#define S 1000000000ull

static void test_counts_only_while_running(void **state)
{
    struct hours_acc a;
    (void)state;
    hours_init(&a, 0, 100 * S);
    hours_update(&a, 200 * S);                 /* stopped: nothing */
    assert_int_equal(a.total_ns, 0);
    hours_set_running(&a, true, 300 * S);
    hours_update(&a, 301 * S);
    hours_update(&a, 303 * S);                 /* ticks add up exactly */
    assert_int_equal(a.total_ns, 3 * S);
    hours_set_running(&a, false, 310 * S);
    hours_update(&a, 400 * S);
    assert_int_equal(a.total_ns, 10 * S);
    hours_set_running(&a, true, 500 * S);      /* the stopped time is not counted */
    hours_set_running(&a, true, 501 * S);      /* a repeated true changes nothing */
    hours_update(&a, 502 * S);
    assert_int_equal(a.total_ns, 12 * S);
}

static void test_starts_from_saved_total(void **state)
{
    struct hours_acc a;
    (void)state;
    hours_init(&a, 3600 * S, 0);
    hours_set_running(&a, true, 0);
    hours_update(&a, 1800 * S);
    assert_true(hours_total_h(&a) == 1.5);
}

static void test_clock_backwards_counts_zero(void **state)
{
    struct hours_acc a;
    (void)state;
    hours_init(&a, 0, 100 * S);
    hours_set_running(&a, true, 100 * S);
    hours_update(&a, 50 * S);
    assert_int_equal(a.total_ns, 0);
    hours_update(&a, 101 * S);                 /* the mark did not move back */
    assert_int_equal(a.total_ns, 1 * S);
}

static void test_skip_gap(void **state)
{
    struct hours_acc a;
    (void)state;
    hours_init(&a, 0, 0);
    hours_set_running(&a, true, 0);
    /* last seen at 10 s, region back at 70 s: the minute in between is not run time */
    hours_skip(&a, 10 * S, 70 * S);
    assert_int_equal(a.total_ns, 10 * S);
    hours_update(&a, 75 * S);
    assert_int_equal(a.total_ns, 15 * S);
}

static void test_no_drift_over_many_runs(void **state)
{
    struct hours_acc a;
    uint64_t t = 0;
    (void)state;
    hours_init(&a, 0, 0);
    /* 1,000,000 runs of 3.6 ms: exactly one hour, no float rounding */
    for (int i = 0; i < 1000000; i++) {
        hours_set_running(&a, true, t);
        t += 3600000;
        hours_set_running(&a, false, t);
        t += 1000;
    }
    assert_int_equal(a.total_ns, 3600 * S);
    assert_true(hours_total_h(&a) == 1.0);
}

static void test_state_roundtrip(void **state)
{
    char buf[HOURS_STATE_MAX];
    uint64_t ms, vals[] = { 0, 1, 45296000, UINT64_MAX / 1000000u };
    (void)state;
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        int n = hours_state_format(vals[i], buf, sizeof(buf));
        assert_true(n > 0);
        assert_int_equal(hours_state_parse(buf, (size_t)n, &ms), 0);
        assert_true(ms == vals[i]);
    }
    hours_state_format(45296000, buf, sizeof(buf));
    assert_string_equal(buf, "spindle-hours 1\ntotal_ms 45296000\n");
    assert_int_equal(hours_state_format(1, buf, 10), -ENOSPC);
}

static void test_state_rejects_corruption(void **state)
{
#define BAD(text) { text, sizeof(text) - 1 }
    static const struct { const char *text; size_t len; } bad[] = {
        BAD(""),                                        /* empty (truncated) */
        BAD("spindle-hours 1\ntotal_ms \n"),            /* no number */
        BAD("spindle-hours 1\ntotal_ms 12"),             /* no final newline: torn */
        BAD("spindle-hours 1\ntotal_ms 12\n\n"),         /* trailing junk */
        BAD("spindle-hours 1\ntotal_ms -12\n"),
        BAD("spindle-hours 1\ntotal_ms 1.5\n"),
        BAD("spindle-hours 1\ntotal_ms 012\n"),          /* not what we write */
        BAD("spindle-hours 2\ntotal_ms 12\n"),           /* another version */
        BAD("spindle-hours 1\ntotal_ms 99999999999999999999\n"), /* overflows */
        BAD("spindle-hours 1\ntotal_ms 18446744073710\n"),       /* ns would overflow */
        BAD("spindle-hours 1\ntotal_ms 1\0\n"),          /* NUL inside */
        BAD("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"), /* power-cut zeros */
    };
#undef BAD
    uint64_t ms = 77;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(hours_state_parse(bad[i].text, bad[i].len, &ms), -EBADMSG);
        assert_true(ms == 77); /* untouched on failure */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_only_while_running), cmocka_unit_test(test_starts_from_saved_total),
        cmocka_unit_test(test_clock_backwards_counts_zero), cmocka_unit_test(test_skip_gap),
        cmocka_unit_test(test_no_drift_over_many_runs), cmocka_unit_test(test_state_roundtrip),
        cmocka_unit_test(test_state_rejects_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
