/* test_pinlog.c - pinlog's pure parts: JSON lines, rotation names, torn tails. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pinlog_line.h"

/* 2026-11-23T21:15:42.123Z */
static const struct timespec t0 = { 1795468542, 123456789 };

static int fmt(hmk_value v, const char *pin, char *buf, size_t len)
{
    struct plog_rec r = { .wall = t0, .mono_ns = 42, .cycle = 7, .pin = pin, .value = v };
    return plog_format(&r, buf, len);
}

static void test_format_each_type(void **state)
{
    char buf[PLOG_LINE_MAX];
    (void)state;
    int n = fmt((hmk_value){ .type = HMK_TYPE_FLOAT, .f = 1500.25 }, "spindle.speed", buf, sizeof(buf));
    assert_int_equal(n, strlen(buf));
    assert_string_equal(buf, "{\"time\":\"2026-11-23T21:15:42.123Z\",\"mono_ns\":42,\"cycle\":7,"
                             "\"pin\":\"spindle.speed\",\"type\":\"float\",\"value\":1500.25}\n");
    fmt((hmk_value){ .type = HMK_TYPE_BIT, .b = true }, "b", buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"type\":\"bit\",\"value\":true}\n"));
    fmt((hmk_value){ .type = HMK_TYPE_BIT, .b = false }, "b", buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"value\":false}\n"));
    fmt((hmk_value){ .type = HMK_TYPE_S32, .s = INT32_MIN }, "s", buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"type\":\"s32\",\"value\":-2147483648}\n"));
    fmt((hmk_value){ .type = HMK_TYPE_U32, .u = UINT32_MAX }, "u", buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"type\":\"u32\",\"value\":4294967295}\n"));
}

static void test_format_floats_stay_json(void **state)
{
    char buf[PLOG_LINE_MAX];
    (void)state;
    fmt((hmk_value){ .type = HMK_TYPE_FLOAT, .f = 0.1 }, "f", buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"value\":0.1}"));        /* shortest exact text */
    fmt((hmk_value){ .type = HMK_TYPE_FLOAT, .f = 1e300 }, "f", buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"value\":1e+300}"));     /* JSON allows e+ */
    fmt((hmk_value){ .type = HMK_TYPE_FLOAT, .f = NAN }, "f", buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"value\":\"nan\"}"));    /* bare nan is not JSON */
    fmt((hmk_value){ .type = HMK_TYPE_FLOAT, .f = -INFINITY }, "f", buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"value\":\"-inf\"}"));
    fmt((hmk_value){ .type = HMK_TYPE_FLOAT, .f = INFINITY }, "f", buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"value\":\"inf\"}"));
}

static void test_format_escapes_names(void **state)
{
    char buf[PLOG_LINE_MAX];
    (void)state;
    fmt((hmk_value){ .type = HMK_TYPE_BIT }, "a\"b\\c\n", buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"pin\":\"a\\\"b\\\\c\\u000a\","));
}

static void test_format_ms_and_epoch(void **state)
{
    struct plog_rec r = { .wall = { 0, 999999999 }, .pin = "p",
                          .value = { .type = HMK_TYPE_BIT } };
    char buf[PLOG_LINE_MAX];
    (void)state;
    plog_format(&r, buf, sizeof(buf));
    /* milliseconds are truncated, never rounded up into the next second */
    assert_memory_equal(buf, "{\"time\":\"1970-01-01T00:00:00.999Z\"", 34);
}

static void test_format_no_overflow(void **state)
{
    char buf[PLOG_LINE_MAX], small[40];
    hmk_value v = { .type = HMK_TYPE_FLOAT, .f = -2.2250738585072014e-308 };
    int n;
    (void)state;
    /* the longest line fits PLOG_LINE_MAX: 47 escaped characters, longest float */
    n = fmt(v, "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
               "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
               "\x01\x01\x01\x01\x01\x01\x01", buf, sizeof(buf));
    assert_true(n > 0 && n < PLOG_LINE_MAX);
    memset(small, 'x', sizeof(small));
    assert_int_equal(fmt(v, "p", small, sizeof(small)), -ENOSPC);
    assert_int_equal(fmt((hmk_value){ .type = 9 }, "p", buf, sizeof(buf)), -EINVAL);
}

static void test_rot_names(void **state)
{
    char buf[32];
    (void)state;
    assert_int_equal(plog_rot_name(buf, sizeof(buf), "/l/pins.jsonl", 0), 13);
    assert_string_equal(buf, "/l/pins.jsonl");
    plog_rot_name(buf, sizeof(buf), "/l/pins.jsonl", 1);
    assert_string_equal(buf, "/l/pins.jsonl.1");
    plog_rot_name(buf, sizeof(buf), "/l/pins.jsonl", 12);
    assert_string_equal(buf, "/l/pins.jsonl.12");
    assert_int_equal(plog_rot_name(buf, 15, "/l/pins.jsonl", 1), -ENAMETOOLONG);
}

static void test_need_rotate(void **state)
{
    (void)state;
    assert_false(plog_need_rotate(0, 100, 10));     /* empty file takes any line */
    assert_false(plog_need_rotate(90, 10, 100));    /* exactly full is fine */
    assert_true(plog_need_rotate(91, 10, 100));
    assert_false(plog_need_rotate(1u << 30, 10, 0)); /* 0: never */
}

static void test_tail_keep(void **state)
{
    (void)state;
    assert_int_equal(plog_tail_keep("", 0, 0), 0);
    assert_int_equal(plog_tail_keep("a\nb\n", 4, 4), 4);       /* clean */
    assert_int_equal(plog_tail_keep("a\nb\n{\"ti", 9, 9), 4);  /* torn line cut */
    assert_int_equal(plog_tail_keep("{\"ti", 4, 4), 0);        /* only a torn line */
    /* a power cut can leave zeros past the last line */
    assert_int_equal(plog_tail_keep("a\n\0\0\0", 5, 5), 2);
    /* tail is the end of a longer file: offsets are file offsets */
    assert_int_equal(plog_tail_keep("b\nc", 3, 1000), 999);
    assert_int_equal(plog_tail_keep("xyz", 3, 1000), -EBADMSG); /* not ours */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_each_type),  cmocka_unit_test(test_format_floats_stay_json),
        cmocka_unit_test(test_format_escapes_names), cmocka_unit_test(test_format_ms_and_epoch),
        cmocka_unit_test(test_format_no_overflow), cmocka_unit_test(test_rot_names),
        cmocka_unit_test(test_need_rotate),       cmocka_unit_test(test_tail_keep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
