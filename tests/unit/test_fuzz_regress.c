/*
 * test_fuzz_regress.c - regression cases for what the libFuzzer fuzzers
 * (fuzz/) found. Each case names the fuzzer and the seed it left in
 * fuzz/corpus/<fuzzer>/, so the fuzzers replay it too.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "halmk.h"
#include "hmk_pinspec.h"

static int parse_s32(const char *text, int32_t *out)
{
    hmk_value v;
    int ret = hmk_value_parse(HMK_TYPE_S32, text, &v);
    if (ret == 0)
        *out = v.s;
    return ret;
}

static int parse_u32(const char *text, uint32_t *out)
{
    hmk_value v;
    int ret = hmk_value_parse(HMK_TYPE_U32, text, &v);
    if (ret == 0)
        *out = v.u;
    return ret;
}

/* fuzz_value, seeds regress_octal_s32 / regress_octal_u32: integers were
 * read with strtoll(..., 0), so a leading zero meant octal: "halpoke pin
 * 010" wrote 8, and "08" was refused. halpoke(1) documents decimal or 0x
 * hexadecimal only. */
static void value_leading_zero_is_decimal(void **state)
{
    int32_t s = 0;
    uint32_t u = 0;

    (void)state;
    assert_int_equal(parse_s32("0015", &s), 0);
    assert_int_equal(s, 15);
    assert_int_equal(parse_s32("010", &s), 0);
    assert_int_equal(s, 10);
    assert_int_equal(parse_s32("-010", &s), 0);
    assert_int_equal(s, -10);
    assert_int_equal(parse_s32("08", &s), 0);
    assert_int_equal(s, 8);
    assert_int_equal(parse_u32("010", &u), 0);
    assert_int_equal(u, 10);
    assert_int_equal(parse_u32("09", &u), 0);
    assert_int_equal(u, 9);
    assert_int_equal(parse_u32("-010", &u), -ERANGE);
    assert_int_equal(parse_u32("-08", &u), -ERANGE);
}

/* the hexadecimal form still works, and a bare prefix is no number */
static void value_hex_still_accepted(void **state)
{
    int32_t s = 0;
    uint32_t u = 0;

    (void)state;
    assert_int_equal(parse_s32("0x10", &s), 0);
    assert_int_equal(s, 16);
    assert_int_equal(parse_s32("-0x80000000", &s), 0);
    assert_int_equal(s, INT32_MIN);
    assert_int_equal(parse_s32("0x80000000", &s), -ERANGE);
    assert_int_equal(parse_u32("0XFFFFFFFF", &u), 0);
    assert_int_equal(u, UINT32_MAX);
    assert_int_equal(parse_u32("0x100000000", &u), -ERANGE);
    assert_int_equal(parse_u32("0x", &u), -EINVAL);
    assert_int_equal(parse_s32("-0x", &s), -EINVAL);
    assert_int_equal(parse_s32("0x-1", &s), -EINVAL);
    assert_int_equal(parse_u32("0b1", &u), -EINVAL);
}

/* fuzz_pinspec invariant: the largest slot table with the longest prefix
 * still gives HAL names of at most 47 characters ("<prefix>.pin.1023.out"
 * is exactly 47), a longer prefix is refused with a message, and a full
 * table has no room for a named pin. */
static void pinspec_longest_names(void **state)
{
    static struct hmk_pinspec ps;
    const char *p34 = "abcdefghijabcdefghijabcdefghijabcd";
    char err[HMK_ERR_LEN];

    (void)state;
    assert_int_equal(hmk_pinspec_parse(p34, 1024, "", &ps, err, sizeof(err)), 0);
    assert_int_equal(ps.n, 1024);
    assert_string_equal(ps.pin[1023].name, "pin.1023");
    assert_int_equal(strlen(p34) + 1 + strlen(ps.pin[1023].name) + 4, 47);
    assert_int_equal(hmk_pinspec_parse("abcdefghijabcdefghijabcdefghijabcde", 1, "", &ps, err,
                                       sizeof(err)), -EINVAL);
    assert_true(err[0] != '\0');
    assert_int_equal(hmk_pinspec_parse("abc", 1024, "", &ps, err, sizeof(err)), 0);
    assert_int_equal(hmk_pinspec_parse("abc", 1024, "x:bit:in", &ps, err, sizeof(err)), -E2BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(value_leading_zero_is_decimal),
        cmocka_unit_test(value_hex_still_accepted),
        cmocka_unit_test(pinspec_longest_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
