/*
 * Text <-> value conversion for halpoke, the services and tests. Reading
 * is the one parser the bridge's fault policies share (hmk_value_syntax.c,
 * whose header is the syntax); writing gives text it reads back exactly.
 */
#include "halmk.h"
#include "hmk_value_syntax.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hmk_value_parse(enum hmk_type type, const char *text, hmk_value *out)
{
    size_t len;
    hmk_value v;
    int ret;

    if (!text || !out)
        return -EINVAL;
    len = strlen(text);
    v.type = type;
    switch (type) {
    case HMK_TYPE_BIT:   ret = hmk_value_text_bit(text, len, &v.b); break;
    case HMK_TYPE_FLOAT: ret = hmk_value_text_float(text, len, &v.f); break;
    case HMK_TYPE_S32:   ret = hmk_value_text_s32(text, len, &v.s); break;
    case HMK_TYPE_U32:   ret = hmk_value_text_u32(text, len, &v.u); break;
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
