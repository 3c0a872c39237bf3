/* test_fmt.c - the daemon's formatter (daemon/fmt.c) against libc's
 * snprintf: every conversion it claims, at every buffer size that cuts the
 * result, gives the same bytes and the same return value; what it does not
 * claim ends the output at "%?" without taking the argument. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fmt.h"

/* Both formatters over the same arguments, into buffers of every size from
 * 0 to the whole result plus two. */
static void same(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void same(const char *format, ...)
{
    char want[256], got[256];
    va_list ap, aq;
    int nw, ng;

    va_start(ap, format);
    va_copy(aq, ap);
    nw = vsnprintf(want, sizeof(want), format, ap);
    va_end(ap);
    assert_true(nw >= 0 && nw < (int)sizeof(want) - 2);
    for (size_t len = 0; len <= (size_t)nw + 2; len++) {
        va_list ar, as;
        va_copy(ar, aq);
        va_copy(as, aq);
        memset(want, 'W', sizeof(want));
        memset(got, 'G', sizeof(got));
        nw = vsnprintf(len ? want : NULL, len, format, ar);
        ng = fmt_v(len ? got : NULL, len, format, as);
        va_end(ar);
        va_end(as);
        size_t cmp = len < (size_t)nw + 1 ? len : (size_t)nw + 1; /* up to the NUL */
        if (ng != nw || memcmp(got, want, cmp) != 0)
            fail_msg("format \"%s\", len %zu: want %d \"%.*s\", got %d \"%.*s\"", format, len, nw,
                     (int)len, want, ng, (int)len, got);
        assert_int_equal(got[cmp], 'G'); /* nothing past the result or the buffer */
    }
    va_end(aq);
}

static void test_fmt_strings(void **state)
{
    (void)state;
    same("plain text");
    same("100%% sure");
    same("[%s]", "word");
    same("[%s]", "");
    same("[%10s|%-10s]", "right", "left");
    same("[%.3s]", "truncated");
    same("[%.*s]", 4, "precision");
    same("[%.*s]", -1, "negative precision is none");
    same("[%.0s]", "none");
    same("[%*s]", 6, "w");
    same("[%*s]", -6, "w");
    same("[%.16s]", "a process name longer than sixteen");
    same("%s=%s", "HMK_REGION", "hal-microkernel");
    same("[%c%c%c]", 'a', 'b', 'c');
    same("[%3c|%-3c]", 'x', 'y');
}

static void test_fmt_integers(void **state)
{
    (void)state;
    same("%d %d %d", 0, -1, 42);
    same("%d %d", INT_MIN, INT_MAX);
    same("%i", -12345);
    same("%u %u", 0u, UINT_MAX);
    same("%x %x", 0u, 0xdeadbeefu);
    same("%ld %lu", LONG_MIN, ULONG_MAX);
    same("%lld %llu", LLONG_MIN, ULLONG_MAX);
    same("%zu %zd", (size_t)SIZE_MAX, (ssize_t)-5);
    same("%jd %ju", INTMAX_MIN, UINTMAX_MAX);
    same("%td", (ptrdiff_t)-7);
    same("%hd %hu %hhd %hhu", -2, 65535, -3, 255);
    same("[%5d|%-5d|%05d]", 42, 42, 42);
    same("[%05d|%5d]", -42, -42);
    same("[%.3d|%.0d|%.0d|%5.3d]", 7, 0, 1, -7);
    same("%02llu.%02llu ms", 12ull, 5ull);
    same("%*d|%-*d", 4, 1, 4, 2);
    same("%llu %s %u %m", 1ull, "mixed", 3u);
}

static void test_fmt_errno(void **state)
{
    char buf[128], want[128];
    (void)state;

    errno = ENOENT;
    snprintf(want, sizeof(want), "open: %s", strerror(ENOENT));
    assert_int_equal(fmt(buf, sizeof(buf), "open: %m"), (int)strlen(want));
    assert_string_equal(buf, want);
    assert_int_equal(errno, ENOENT); /* left as it was */
    errno = EACCES;
    same("[%m] [%20m] [%.4m]");
}

/* A conversion it does not do: output ends at "%?", the argument is not
 * read (a float is not taken as an int), the result is still terminated. */
static void test_fmt_unknown_stops(void **state)
{
    char buf[64];
    (void)state;

    assert_int_equal(fmt(buf, sizeof(buf), "a %f b %s", 1.5, "never"), 4);
    assert_string_equal(buf, "a %?");
    assert_int_equal(fmt(buf, sizeof(buf), "%d %p %d", 1, (void *)buf, 2), 4);
    assert_string_equal(buf, "1 %?");
    assert_int_equal(fmt(buf, sizeof(buf), "%#x", 1u), 2);
    assert_string_equal(buf, "%?");
    const char *volatile trailing = "trailing %"; /* a literal would not compile */
    assert_int_equal(fmt(buf, sizeof(buf), trailing, 0), 11);
    assert_string_equal(buf, "trailing %?");
}

static void test_fmt_dup(void **state)
{
    char *s;
    (void)state;

    s = fmt_dup("%s=%d", "HMK_READY_FD", 3);
    assert_non_null(s);
    assert_string_equal(s, "HMK_READY_FD=3");
    free(s);
    s = fmt_dup("%s", "");
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_strings),
        cmocka_unit_test(test_fmt_integers),
        cmocka_unit_test(test_fmt_errno),
        cmocka_unit_test(test_fmt_unknown_stops),
        cmocka_unit_test(test_fmt_dup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
