/*
 * Strict text <-> value conversion shared by halpoke, config loaders and
 * tests. Strict means: the whole string is the value, no leading or
 * trailing blanks, no silent wrap-around, no NaN or infinity.
 */
#include "halmk.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hmk_parse_bit(const char *s, hmk_value *v)
{
    if (strcmp(s, "1") == 0 || strcmp(s, "true") == 0 || strcmp(s, "TRUE") == 0) {
        v->b = true;
        return 0;
    }
    if (strcmp(s, "0") == 0 || strcmp(s, "false") == 0 || strcmp(s, "FALSE") == 0) {
        v->b = false;
        return 0;
    }
    return -EINVAL;
}

/* strtoll/strtoull accept leading blanks and '+'; we want the value alone. */
static int hmk_int_shape_ok(const char *s, int allow_minus)
{
    if (*s == '-') {
        if (!allow_minus)
            return 0;
        s++;
    }
    return *s >= '0' && *s <= '9';
}

/* Decimal, or hexadecimal after "0x": never base 0, which would read a
 * leading zero as octal ("010" is ten, not eight). */
static int hmk_int_base(const char *s)
{
    if (*s == '-')
        s++;
    return s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10;
}

static int hmk_parse_s32(const char *s, hmk_value *v)
{
    char *end;
    long long x;

    if (!hmk_int_shape_ok(s, 1))
        return -EINVAL;
    errno = 0;
    x = strtoll(s, &end, hmk_int_base(s));
    if (*end)
        return -EINVAL;
    if (errno == ERANGE || x < INT32_MIN || x > INT32_MAX)
        return -ERANGE;
    v->s = (int32_t)x;
    return 0;
}

static int hmk_parse_u32(const char *s, hmk_value *v)
{
    char *end;
    unsigned long long x;

    if (*s == '-' && hmk_int_shape_ok(s, 1)) {
        /* a well-formed negative number is a range error, not a syntax one */
        strtoll(s, &end, hmk_int_base(s));
        return *end ? -EINVAL : -ERANGE;
    }
    if (!hmk_int_shape_ok(s, 0))
        return -EINVAL;
    errno = 0;
    x = strtoull(s, &end, hmk_int_base(s));
    if (*end)
        return -EINVAL;
    if (errno == ERANGE || x > UINT32_MAX)
        return -ERANGE;
    v->u = (uint32_t)x;
    return 0;
}

static int hmk_parse_float(const char *s, hmk_value *v)
{
    char *end;
    double x;

    if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '+'))
        return -EINVAL;
    /* "inf", "nan" and hex floats are refused by shape before strtod */
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789+-.eE", *p))
            return -EINVAL;
    errno = 0;
    x = strtod(s, &end);
    if (*end || end == s)
        return -EINVAL;
    if (!isfinite(x) || (errno == ERANGE && fabs(x) > 1.0))
        return -ERANGE;
    v->f = x;
    return 0;
}

int hmk_value_parse(enum hmk_type type, const char *text, hmk_value *out)
{
    hmk_value v;
    int ret;

    if (!text || !out)
        return -EINVAL;
    v.type = type;
    switch (type) {
    case HMK_TYPE_BIT:   ret = hmk_parse_bit(text, &v); break;
    case HMK_TYPE_FLOAT: ret = hmk_parse_float(text, &v); break;
    case HMK_TYPE_S32:   ret = hmk_parse_s32(text, &v); break;
    case HMK_TYPE_U32:   ret = hmk_parse_u32(text, &v); break;
    default:             return -EINVAL;
    }
    if (ret == 0)
        *out = v;
    return ret;
}

static int hmk_format_float(double f, char *buf, size_t len)
{
    double mag = fabs(f);
    int n = 0, prec;

    /* shortest %g precision that reads back bit-exactly (keeps "-0") */
    for (prec = 1; prec < 17; prec++) {
        char probe[40];
        snprintf(probe, sizeof(probe), "%.*g", prec, f);
        if (strtod(probe, NULL) == f)
            break;
    }
    /* but never an exponent for numbers a person reads as integers or
     * plain decimals: 1500, not 1.5e+03 */
    if (mag >= 1.0 && mag < 1e15) {
        int digits = 1; /* decimal digits before the point; powers of 10 are exact */
        for (double p = 10.0; mag >= p; p *= 10.0)
            digits++;
        if (prec < digits)
            prec = digits;
    }
    n = snprintf(buf, len, "%.*g", prec, f);
    if (n < 0 || (size_t)n >= len)
        return -ENOSPC;
    return n;
}

int hmk_value_format(const hmk_value *v, char *buf, size_t len)
{
    int n;

    if (!v || !buf)
        return -EINVAL;
    switch (v->type) {
    case HMK_TYPE_BIT:   n = snprintf(buf, len, "%s", v->b ? "TRUE" : "FALSE"); break;
    case HMK_TYPE_FLOAT: return hmk_format_float(v->f, buf, len);
    case HMK_TYPE_S32:   n = snprintf(buf, len, "%" PRId32, v->s); break;
    case HMK_TYPE_U32:   n = snprintf(buf, len, "%" PRIu32, v->u); break;
    default:             return -EINVAL;
    }
    if (n < 0 || (size_t)n >= len)
        return -ENOSPC;
    return n;
}

const char *hmk_type_name(enum hmk_type t)
{
    switch (t) {
    case HMK_TYPE_BIT:   return "bit";
    case HMK_TYPE_FLOAT: return "float";
    case HMK_TYPE_S32:   return "s32";
    case HMK_TYPE_U32:   return "u32";
    default:             return "?";
    }
}

const char *hmk_dir_name(enum hmk_dir d)
{
    switch (d) {
    case HMK_DIR_IN:  return "in";
    case HMK_DIR_OUT: return "out";
    case HMK_DIR_IO:  return "io";
    default:          return "?";
    }
}
