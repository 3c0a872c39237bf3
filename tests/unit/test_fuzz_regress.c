/*
 * test_fuzz_regress.c - regression cases for what the libFuzzer fuzzers
 * (fuzz/) found. Each case names the fuzzer and the seed it left in
 * fuzz/corpus/<fuzzer>/, so the fuzzers replay it too.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "halmk.h"
#include "hmk_pinspec.h"
#include "hmk_region.h"

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

/* A region as the bridge's init_region makes it, with HAL prefix `pfx`,
 * under /dev/shm/<name> (the header and pin table are all hmk_open reads;
 * the channels are looked for at the first write only). */
static void make_region(const char *name, const char *pfx, int count, const char *pins)
{
    static struct hmk_shm shm;
    static struct hmk_pinspec ps;
    char err[HMK_ERR_LEN], path[128];
    int fd;

    assert_int_equal(hmk_pinspec_parse(pfx, count, pins, &ps, err, sizeof(err)), 0);
    memset(&shm, 0, sizeof(shm));
    memcpy(shm.pin, ps.pin, ps.n * sizeof(ps.pin[0]));
    hmk_region_header_init(&shm, ps.n, 0, 7, pfx, 0);
    hmk_region_publish(&shm.hdr);
    snprintf(path, sizeof(path), "/dev/shm/%s", name);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, &shm, sizeof(shm)), (ssize_t)sizeof(shm));
    close(fd);
}

static void remove_region(const char *name)
{
    char path[128];

    snprintf(path, sizeof(path), "/dev/shm/%s", name);
    unlink(path);
}

/* fuzz_region, seed regress_prefix_shadows_name: hmk_pin_find stripped the
 * HAL prefix before it looked for a region name, so with prefix=pin the
 * slot "pin.0" was not found by its own name, and with prefix=spindle a pin
 * named spindle.speed could not be found as "spindle.speed". */
static char g_region[64];

/* also after a failed assertion: no object left in /dev/shm */
static int region_teardown(void **state)
{
    (void)state;
    if (g_region[0])
        remove_region(g_region);
    return 0;
}

static void find_region_name_that_starts_with_prefix(void **state)
{
    char *name = g_region;
    hmk_region *r = NULL;

    (void)state;
    snprintf(g_region, sizeof(g_region), "hmk-regress-%ld", (long)getpid());
    make_region(name, "pin", 2, "");
    assert_int_equal(hmk_open(name, 0, &r), 0);
    assert_int_equal(hmk_pin_find(r, "pin.0"), 0);
    assert_int_equal(hmk_pin_find(r, "pin.1"), 1);
    assert_int_equal(hmk_pin_find(r, "pin.pin.1.out"), 1); /* HAL names still work */
    assert_int_equal(hmk_pin_find(r, "pin.1.in"), 1);
    hmk_close(r);
    remove_region(name);

    make_region(name, "spindle", 0, "speed:float:in,spindle.speed:float:out");
    assert_int_equal(hmk_open(name, 0, &r), 0);
    assert_int_equal(hmk_pin_find(r, "speed"), 0);
    assert_int_equal(hmk_pin_find(r, "spindle.speed"), 1); /* region name first */
    assert_int_equal(hmk_pin_find(r, "spindle.spindle.speed"), 1);
    assert_int_equal(hmk_pin_find(r, "spindle.nosuch"), -ENOENT);
    hmk_close(r);
    remove_region(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(value_leading_zero_is_decimal),
        cmocka_unit_test(value_hex_still_accepted),
        cmocka_unit_test(pinspec_longest_names),
        cmocka_unit_test_teardown(find_region_name_that_starts_with_prefix, region_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
