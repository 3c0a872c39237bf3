/*
 * The one text -> value parser (syntax and contract: hmk_value_syntax.h).
 * Built into libhalmk and the hmk_pinspec library, and #included by the
 * bridge's module source, so it uses nothing beyond the C library: no
 * allocation, no rtapi.
 */
#include "../include/hmk_value_syntax.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool vs_is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

int hmk_value_text_bit(const char *text, size_t len, bool *out)
{
    if (vs_is(text, len, "1") || vs_is(text, len, "true") || vs_is(text, len, "TRUE")) {
        *out = true;
        return 0;
    }
    if (vs_is(text, len, "0") || vs_is(text, len, "false") || vs_is(text, len, "FALSE")) {
        *out = false;
        return 0;
    }
    return -EINVAL;
}

static int vs_digit(char c, unsigned base)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (base == 16 && c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (base == 16 && c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* [-](DIGITS | 0x HEXDIGITS), read by hand rather than with strtoll, which
 * would take blanks and '+' and needs a terminator. The whole text is
 * checked before its size, so "99999999999x" is a syntax error, not a
 * range error. A magnitude beyond 32 bits is reported as UINT64_MAX. */
static int vs_int(const char *s, size_t len, bool *neg, uint64_t *mag)
{
    unsigned base = 10;
    uint64_t v = 0;
    size_t i = 0;

    if (len > HMK_VALUE_TEXT_MAX)
        return -EINVAL;
    *neg = len > 0 && s[0] == '-';
    if (*neg)
        i++;
    /* never octal: a leading zero is just a zero */
    if (len - i >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        base = 16;
        i += 2;
    }
    if (i == len)
        return -EINVAL;
    for (; i < len; i++) {
        int d = vs_digit(s[i], base);
        if (d < 0)
            return -EINVAL;
        if (v <= UINT32_MAX)
            v = v * base + (unsigned)d; /* stays far below 2^64 */
    }
    *mag = v > UINT32_MAX ? UINT64_MAX : v;
    return 0;
}

int hmk_value_text_s32(const char *text, size_t len, int32_t *out)
{
    uint64_t mag;
    bool neg;
    int ret = vs_int(text, len, &neg, &mag);

    if (ret < 0)
        return ret;
    if (neg ? mag > (uint64_t)INT32_MAX + 1 : mag > INT32_MAX)
        return -ERANGE;
    *out = neg ? (int32_t)(-(int64_t)mag) : (int32_t)mag;
    return 0;
}

int hmk_value_text_u32(const char *text, size_t len, uint32_t *out)
{
    uint64_t mag;
    bool neg;
    int ret = vs_int(text, len, &neg, &mag);

    if (ret < 0)
        return ret;
    if (neg || mag > UINT32_MAX)
        return -ERANGE;
    *out = (uint32_t)mag;
    return 0;
}

int hmk_value_text_float(const char *text, size_t len, double *out)
{
    char buf[HMK_VALUE_TEXT_MAX + 1], *end;
    double x;

    if (len == 0 || len > HMK_VALUE_TEXT_MAX)
        return -EINVAL;
    /* "inf", "nan", hex floats and blanks are refused by shape before
     * strtod, which would take them all */
    for (size_t i = 0; i < len; i++)
        if (!memchr("0123456789+-.eE", text[i], 15))
            return -EINVAL;
    memcpy(buf, text, len);
    buf[len] = '\0';
    x = strtod(buf, &end);
    if (*end || end == buf)
        return -EINVAL;
    /* overflow gives +-HUGE_VAL; an underflow's tiny or zero result is the
     * closest double there is, so it is taken */
    if (!isfinite(x))
        return -ERANGE;
    *out = x;
    return 0;
}
