/*
 * test_value.c - hmk_value_parse/hmk_value_format (lib/hmk_value.c): the
 * strict text <-> value conversion halpoke and config files use. Strict:
 * the whole string is the value, no blanks, no wrap-around, no NaN/inf;
 * format then parse gives back the same bits.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "halmk.h"
#include "hmk_value_syntax.h"

static uint64_t bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static double from_bits(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* parse must fail with `err` and leave *out untouched */
static void bad(enum hmk_type t, const char *text, int err)
{
    hmk_value v = { .type = (enum hmk_type)99, .u = 0xdeadbeef };
    int ret = hmk_value_parse(t, text, &v);
    if (ret != err)
        print_message("%s \"%s\": got %d, want %d\n", hmk_type_name(t), text, ret, err);
    assert_int_equal(ret, err);
    assert_int_equal(v.type, 99);
    assert_int_equal(v.u, 0xdeadbeef);
}

static hmk_value good(enum hmk_type t, const char *text)
{
    hmk_value v;
    memset(&v, 0, sizeof(v));
    int ret = hmk_value_parse(t, text, &v);
    if (ret != 0)
        print_message("%s \"%s\": got %d\n", hmk_type_name(t), text, ret);
    assert_int_equal(ret, 0);
    assert_int_equal(v.type, t);
    return v;
}

static void test_value_bit(void **state)
{
    (void)state;
    assert_true(good(HMK_TYPE_BIT, "true").b);
    assert_true(good(HMK_TYPE_BIT, "TRUE").b);
    assert_true(good(HMK_TYPE_BIT, "1").b);
    assert_false(good(HMK_TYPE_BIT, "false").b);
    assert_false(good(HMK_TYPE_BIT, "FALSE").b);
    assert_false(good(HMK_TYPE_BIT, "0").b);
    bad(HMK_TYPE_BIT, "2", -EINVAL);
    bad(HMK_TYPE_BIT, "yes", -EINVAL);
    bad(HMK_TYPE_BIT, "", -EINVAL);
    bad(HMK_TYPE_BIT, " 1", -EINVAL);
    bad(HMK_TYPE_BIT, "1 ", -EINVAL);
    bad(HMK_TYPE_BIT, "01", -EINVAL);
    bad(HMK_TYPE_BIT, "-1", -EINVAL);
    bad(HMK_TYPE_BIT, "truex", -EINVAL);
    bad(HMK_TYPE_BIT, "on", -EINVAL);
}

static void test_value_s32_limits(void **state)
{
    (void)state;
    assert_int_equal(good(HMK_TYPE_S32, "-2147483648").s, INT32_MIN);
    assert_int_equal(good(HMK_TYPE_S32, "2147483647").s, INT32_MAX);
    assert_int_equal(good(HMK_TYPE_S32, "0").s, 0);
    assert_int_equal(good(HMK_TYPE_S32, "-1").s, -1);
    assert_int_equal(good(HMK_TYPE_S32, "0x7fffffff").s, INT32_MAX);
    bad(HMK_TYPE_S32, "-2147483649", -ERANGE);
    bad(HMK_TYPE_S32, "2147483648", -ERANGE);
    bad(HMK_TYPE_S32, "99999999999999999999999", -ERANGE);
    bad(HMK_TYPE_S32, "-99999999999999999999999", -ERANGE);
    bad(HMK_TYPE_S32, "", -EINVAL);
    bad(HMK_TYPE_S32, " 1", -EINVAL);
    bad(HMK_TYPE_S32, "1 ", -EINVAL);
    bad(HMK_TYPE_S32, "+1", -EINVAL);
    bad(HMK_TYPE_S32, "1.5", -EINVAL);
    bad(HMK_TYPE_S32, "1e3", -EINVAL);
    bad(HMK_TYPE_S32, "abc", -EINVAL);
    bad(HMK_TYPE_S32, "-", -EINVAL);
    bad(HMK_TYPE_S32, "0x", -EINVAL);
}

static void test_value_u32_limits(void **state)
{
    (void)state;
    assert_int_equal(good(HMK_TYPE_U32, "4294967295").u, UINT32_MAX);
    assert_int_equal(good(HMK_TYPE_U32, "0").u, 0);
    assert_int_equal(good(HMK_TYPE_U32, "0xffffffff").u, UINT32_MAX);
    bad(HMK_TYPE_U32, "4294967296", -ERANGE);
    bad(HMK_TYPE_U32, "-1", -ERANGE);
    bad(HMK_TYPE_U32, "-4294967296", -ERANGE);
    bad(HMK_TYPE_U32, "18446744073709551616", -ERANGE);
    bad(HMK_TYPE_U32, "", -EINVAL);
    bad(HMK_TYPE_U32, " 1", -EINVAL);
    bad(HMK_TYPE_U32, "+1", -EINVAL);
    bad(HMK_TYPE_U32, "-1x", -EINVAL);
    bad(HMK_TYPE_U32, "1.0", -EINVAL);
}

static void test_value_float(void **state)
{
    hmk_value v;
    (void)state;

    v = good(HMK_TYPE_FLOAT, "-0.0");
    assert_true(v.f == 0.0 && signbit(v.f));
    v = good(HMK_TYPE_FLOAT, "0");
    assert_true(v.f == 0.0 && !signbit(v.f));
    assert_true(good(HMK_TYPE_FLOAT, "1e308").f == 1e308);
    assert_true(good(HMK_TYPE_FLOAT, "-1e308").f == -1e308);
    assert_true(good(HMK_TYPE_FLOAT, "12.5").f == 12.5);
    assert_true(good(HMK_TYPE_FLOAT, ".5").f == 0.5);
    assert_true(good(HMK_TYPE_FLOAT, "1.7976931348623157e308").f == DBL_MAX);
    assert_true(good(HMK_TYPE_FLOAT, "4.9406564584124654e-324").f == DBL_TRUE_MIN);
    bad(HMK_TYPE_FLOAT, "1e309", -ERANGE);
    bad(HMK_TYPE_FLOAT, "-1e309", -ERANGE);
    bad(HMK_TYPE_FLOAT, "nan", -EINVAL);
    bad(HMK_TYPE_FLOAT, "NAN", -EINVAL);
    bad(HMK_TYPE_FLOAT, "-nan", -EINVAL);
    bad(HMK_TYPE_FLOAT, "inf", -EINVAL);
    bad(HMK_TYPE_FLOAT, "-inf", -EINVAL);
    bad(HMK_TYPE_FLOAT, "infinity", -EINVAL);
    bad(HMK_TYPE_FLOAT, "1.5x", -EINVAL);
    bad(HMK_TYPE_FLOAT, "", -EINVAL);
    bad(HMK_TYPE_FLOAT, " 1", -EINVAL);
    bad(HMK_TYPE_FLOAT, "1 ", -EINVAL);
    bad(HMK_TYPE_FLOAT, "0x1p3", -EINVAL);
    bad(HMK_TYPE_FLOAT, "1,5", -EINVAL);
    bad(HMK_TYPE_FLOAT, "-", -EINVAL);
    bad(HMK_TYPE_FLOAT, ".", -EINVAL);
    bad(HMK_TYPE_FLOAT, "e5", -EINVAL);
    bad(HMK_TYPE_FLOAT, "1e", -EINVAL);
}

/* the one parser (hmk_value_syntax.h) reads a span: no terminator needed,
 * so the bridge reads its list items in place; a NUL inside is no value;
 * HMK_VALUE_TEXT_MAX characters at most, for every type alike */
static void test_value_syntax_span(void **state)
{
    static char zeros[HMK_VALUE_TEXT_MAX + 2];
    int32_t s = 0;
    uint32_t u = 0;
    double f = 0;
    bool b = false;
    (void)state;

    assert_int_equal(hmk_value_text_s32("0x10,5", 4, &s), 0);
    assert_int_equal(s, 16);
    assert_int_equal(hmk_value_text_u32("17:hold", 2, &u), 0);
    assert_int_equal(u, 17);
    assert_int_equal(hmk_value_text_float("1e3,0", 3, &f), 0);
    assert_true(f == 1000.0);
    assert_int_equal(hmk_value_text_float("1e39", 3, &f), 0); /* not 1e39 */
    assert_true(f == 1000.0);
    assert_int_equal(hmk_value_text_bit("truex", 4, &b), 0);
    assert_true(b);
    assert_int_equal(hmk_value_text_bit("true", 3, &b), -EINVAL);
    assert_int_equal(hmk_value_text_s32("1\0" "2", 3, &s), -EINVAL);
    assert_int_equal(hmk_value_text_float("1\0" "2", 3, &f), -EINVAL);
    assert_int_equal(hmk_value_text_s32("", 0, &s), -EINVAL);
    assert_int_equal(hmk_value_text_float("", 0, &f), -EINVAL);
    /* untouched on failure */
    assert_int_equal(s, 16);
    assert_true(f == 1000.0);

    memset(zeros, '0', HMK_VALUE_TEXT_MAX);
    zeros[HMK_VALUE_TEXT_MAX - 1] = '7';
    assert_int_equal(good(HMK_TYPE_S32, zeros).s, 7);
    assert_int_equal(good(HMK_TYPE_U32, zeros).u, 7);
    assert_true(good(HMK_TYPE_FLOAT, zeros).f == 7.0);
    zeros[HMK_VALUE_TEXT_MAX] = '7';
    bad(HMK_TYPE_S32, zeros, -EINVAL);
    bad(HMK_TYPE_U32, zeros, -EINVAL);
    bad(HMK_TYPE_FLOAT, zeros, -EINVAL);
}

static void test_value_hex(void **state)
{
    (void)state;
    assert_int_equal(good(HMK_TYPE_S32, "0x10").s, 16);
    assert_int_equal(good(HMK_TYPE_S32, "-0x10").s, -16);
    assert_int_equal(good(HMK_TYPE_S32, "0XaB").s, 0xab);
    assert_int_equal(good(HMK_TYPE_S32, "-0x80000000").s, INT32_MIN);
    assert_int_equal(good(HMK_TYPE_U32, "0x0010").u, 16);
    bad(HMK_TYPE_S32, "0x80000000", -ERANGE);
    bad(HMK_TYPE_S32, "0x1000000000000000000", -ERANGE);
    bad(HMK_TYPE_U32, "-0x10", -ERANGE);
    bad(HMK_TYPE_U32, "-0", -ERANGE);
    bad(HMK_TYPE_S32, "0xg", -EINVAL);
    bad(HMK_TYPE_S32, "0x 1", -EINVAL);
    bad(HMK_TYPE_S32, "0x-1", -EINVAL);
    bad(HMK_TYPE_S32, "0x0x1", -EINVAL);
    bad(HMK_TYPE_S32, "1f", -EINVAL);
    bad(HMK_TYPE_U32, "99999999999999999999x", -EINVAL); /* syntax before size */
    bad(HMK_TYPE_FLOAT, "0x10", -EINVAL);
    bad(HMK_TYPE_BIT, "0x1", -EINVAL);
    assert_true(good(HMK_TYPE_FLOAT, "1e3").f == 1000.0);
    assert_true(good(HMK_TYPE_FLOAT, "+1.5").f == 1.5);
    assert_true(good(HMK_TYPE_FLOAT, "1e-400").f == 0.0); /* underflow: the nearest double */
}

static void test_value_bad_arguments(void **state)
{
    hmk_value v = { .type = HMK_TYPE_BIT };
    char buf[8];
    (void)state;

    assert_int_equal(hmk_value_parse(HMK_TYPE_BIT, NULL, &v), -EINVAL);
    assert_int_equal(hmk_value_parse(HMK_TYPE_BIT, "1", NULL), -EINVAL);
    assert_int_equal(hmk_value_parse((enum hmk_type)0, "1", &v), -EINVAL);
    assert_int_equal(hmk_value_parse((enum hmk_type)5, "1", &v), -EINVAL);
    assert_int_equal(hmk_value_format(NULL, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(hmk_value_format(&v, NULL, 8), -EINVAL);
    v.type = (enum hmk_type)7;
    assert_int_equal(hmk_value_format(&v, buf, sizeof(buf)), -EINVAL);
}

static void test_value_format(void **state)
{
    char buf[64];
    hmk_value v;
    (void)state;

    v = (hmk_value){ .type = HMK_TYPE_BIT, .b = true };
    assert_int_equal(hmk_value_format(&v, buf, sizeof(buf)), 4);
    assert_string_equal(buf, "TRUE");
    v.b = false;
    assert_int_equal(hmk_value_format(&v, buf, sizeof(buf)), 5);
    assert_string_equal(buf, "FALSE");
    v = (hmk_value){ .type = HMK_TYPE_S32, .s = INT32_MIN };
    assert_int_equal(hmk_value_format(&v, buf, sizeof(buf)), 11);
    assert_string_equal(buf, "-2147483648");
    v = (hmk_value){ .type = HMK_TYPE_U32, .u = UINT32_MAX };
    assert_int_equal(hmk_value_format(&v, buf, sizeof(buf)), 10);
    assert_string_equal(buf, "4294967295");
    v = (hmk_value){ .type = HMK_TYPE_FLOAT, .f = -0.0 };
    assert_true(hmk_value_format(&v, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "-0");
    v.f = 12.5;
    assert_true(hmk_value_format(&v, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "12.5");
    v.f = 0.1; /* shortest form, not 0.10000000000000001 */
    assert_true(hmk_value_format(&v, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "0.1");
    /* too small a buffer: -ENOSPC, never a truncated value */
    v = (hmk_value){ .type = HMK_TYPE_U32, .u = UINT32_MAX };
    assert_int_equal(hmk_value_format(&v, buf, 10), -ENOSPC);
    assert_int_equal(hmk_value_format(&v, buf, 11), 10);
    v = (hmk_value){ .type = HMK_TYPE_FLOAT, .f = DBL_MAX };
    assert_int_equal(hmk_value_format(&v, buf, 8), -ENOSPC);
    v = (hmk_value){ .type = HMK_TYPE_BIT, .b = true };
    assert_int_equal(hmk_value_format(&v, buf, 4), -ENOSPC);
    assert_string_equal(hmk_type_name(HMK_TYPE_BIT), "bit");
    assert_string_equal(hmk_type_name(HMK_TYPE_FLOAT), "float");
    assert_string_equal(hmk_type_name(HMK_TYPE_S32), "s32");
    assert_string_equal(hmk_type_name(HMK_TYPE_U32), "u32");
    assert_string_equal(hmk_dir_name(HMK_DIR_IN), "in");
    assert_string_equal(hmk_dir_name(HMK_DIR_OUT), "out");
    assert_string_equal(hmk_dir_name(HMK_DIR_IO), "io");
}

static void round_trip_float(double d, unsigned *checked)
{
    hmk_value v = { .type = HMK_TYPE_FLOAT, .f = d }, w;
    char buf[64];
    int n = hmk_value_format(&v, buf, sizeof(buf));

    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(buf));
    memset(&w, 0, sizeof(w));
    if (hmk_value_parse(HMK_TYPE_FLOAT, buf, &w) != 0)
        print_message("\"%s\" (bits %016llx) does not parse back\n", buf,
                      (unsigned long long)bits(d));
    assert_int_equal(hmk_value_parse(HMK_TYPE_FLOAT, buf, &w), 0);
    if (bits(w.f) != bits(d))
        print_message("\"%s\": %016llx -> %016llx\n", buf, (unsigned long long)bits(d),
                      (unsigned long long)bits(w.f));
    assert_int_equal(bits(w.f), bits(d));
    (*checked)++;
}

static void test_value_float_round_trip_bit_exact(void **state)
{
    static const double special[] = { 0.0, -0.0, 1.0, -1.0, 0.1, 1.0 / 3, DBL_MAX, -DBL_MAX,
                                       DBL_MIN, -DBL_MIN, DBL_TRUE_MIN, -DBL_TRUE_MIN,
                                       DBL_EPSILON, 1e308, 9007199254740993.0,
                                       123456789.123456789 };
    uint64_t seed = 0x5eed;
    unsigned checked = 0;
    (void)state;

    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
        round_trip_float(special[i], &checked);
    /* any finite bit pattern: subnormals, huge and tiny exponents */
    for (int i = 0; i < 100000; i++) {
        double d = from_bits(rnd(&seed));
        if (isfinite(d))
            round_trip_float(d, &checked);
    }
    /* values of everyday size, with their full 53-bit mantissas */
    for (int i = 0; i < 50000; i++) {
        double d = ((double)(rnd(&seed) >> 11) / 9007199254740992.0 - 0.5) * 2e4;
        round_trip_float(d, &checked);
    }
    /* s32/u32 too, at random */
    for (int i = 0; i < 20000; i++) {
        hmk_value v = { .type = HMK_TYPE_S32, .s = (int32_t)(uint32_t)rnd(&seed) }, w;
        char buf[32];
        assert_true(hmk_value_format(&v, buf, sizeof(buf)) > 0);
        assert_int_equal(hmk_value_parse(HMK_TYPE_S32, buf, &w), 0);
        assert_int_equal(w.s, v.s);
        v = (hmk_value){ .type = HMK_TYPE_U32, .u = (uint32_t)rnd(&seed) };
        assert_true(hmk_value_format(&v, buf, sizeof(buf)) > 0);
        assert_int_equal(hmk_value_parse(HMK_TYPE_U32, buf, &w), 0);
        assert_int_equal(w.u, v.u);
    }
    print_message("float round trips checked: %u\n", checked);
    assert_true(checked > 140000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_bit),
        cmocka_unit_test(test_value_s32_limits),
        cmocka_unit_test(test_value_u32_limits),
        cmocka_unit_test(test_value_float),
        cmocka_unit_test(test_value_hex),
        cmocka_unit_test(test_value_syntax_span),
        cmocka_unit_test(test_value_bad_arguments),
        cmocka_unit_test(test_value_format),
        cmocka_unit_test(test_value_float_round_trip_bit_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
