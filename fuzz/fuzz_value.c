/*
 * fuzz_value - the one value parser (lib/hmk_value_syntax.c) as halpoke
 * reads values (hmk_value_parse, lib/hmk_value.c) and as the bridge reads
 * its safe= policies (bridge/hmk_pinspec.c), and hmk_value_format().
 *
 * Input: byte 0 selects the type (low 3 bits: 1 bit, 2 float, 3 s32,
 * 4 u32, anything else an invalid type) and, with bit 3 set, switches from
 * "parse this text" to "format these bits"; byte 1 is the size of the
 * output buffer given to hmk_value_format (0..255, allocated to exactly
 * that size so ASan sees any overrun); the rest is the text (or the value's
 * bits, little-endian).
 *
 * Properties (abort() on violation):
 *  - parse: bit, s32 and u32 text is accepted exactly when an independent
 *    reference parser of the documented syntax (hmk_value_syntax.h) accepts
 *    it (true/false/1/0; decimal or 0x hex, range-checked, at most
 *    HMK_VALUE_TEXT_MAX characters), with the same value and the same error
 *    (-EINVAL syntax, -ERANGE range);
 *  - parse: the bytes as a span (an exact-size buffer with no terminator,
 *    so ASan sees any read past it) give what hmk_value_parse gives the
 *    text, and -EINVAL when a NUL is inside;
 *  - parse: the bridge's safe= accepts the text exactly when
 *    hmk_value_parse does, with the same value (texts with ',' are lists
 *    there, "" and "hold" its own word: skipped);
 *  - parse: success only for the documented types, and the parsed value
 *    formats and parses back to the same bits (round trip);
 *  - format: any finite value formats (into a big enough buffer) to text
 *    that parses back to the same bits; a short buffer gets -ENOSPC or a
 *    terminated string of the returned length, never an overrun.
 */
#include "halmk.h"
#include "hmk_pinspec.h"
#include "hmk_value_syntax.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The documented integer syntax, written independently: an optional '-',
 * then decimal digits, or "0x"/"0X" and hexadecimal digits. Nothing else
 * (no '+', no blanks, no octal). A u32 given a well-formed negative number
 * is a range error. */
static int ref_int(const char *s, int is_signed, int64_t *out)
{
    uint64_t v = 0;
    int neg = 0, base = 10, big = 0;

    if (strlen(s) > HMK_VALUE_TEXT_MAX)
        return -EINVAL;
    if (*s == '-') {
        neg = 1;
        s++;
    }
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return -EINVAL;
    for (; *s; s++) {
        int d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = *s - 'A' + 10;
        else
            return -EINVAL;
        if (v > (1ull << 40))
            big = 1;
        else
            v = v * (uint64_t)base + (uint64_t)d;
    }
    if (big || (neg && !is_signed))
        return -ERANGE;
    *out = neg ? -(int64_t)v : (int64_t)v;
    if (is_signed ? (*out < INT32_MIN || *out > INT32_MAX) : *out > (int64_t)UINT32_MAX)
        return -ERANGE;
    return 0;
}

/* bit: exactly these six words */
static int ref_bit(const char *s, int *out)
{
    static const char *const t[] = { "1", "true", "TRUE" }, *const f[] = { "0", "false", "FALSE" };
    for (int i = 0; i < 3; i++) {
        if (!strcmp(s, t[i]))
            return *out = 1, 0;
        if (!strcmp(s, f[i]))
            return *out = 0, 0;
    }
    return -EINVAL;
}

/* hmk_value_parse must agree with the reference for bit, s32 and u32 */
static void check_reference(enum hmk_type type, const char *text, int ret, const hmk_value *v)
{
    int64_t x = 0;
    int b = 0, want;

    switch (type) {
    case HMK_TYPE_BIT:
        want = ref_bit(text, &b);
        if (want != ret || (ret == 0 && v->b != (bool)b))
            abort();
        break;
    case HMK_TYPE_S32:
    case HMK_TYPE_U32:
        want = ref_int(text, type == HMK_TYPE_S32, &x);
        if (want != ret)
            abort();
        if (ret == 0 && (type == HMK_TYPE_S32 ? v->s != (int32_t)x : v->u != (uint32_t)x))
            abort();
        break;
    default:
        break;
    }
}

/* The shared parser on the bytes as a span must agree with
 * hmk_value_parse on the text (cut at the first NUL). */
static void check_span(enum hmk_type type, const uint8_t *data, size_t size, int ret,
                       const hmk_value *v)
{
    char *span = malloc(size ? size : 1); /* exactly the bytes, no terminator */
    int want = memchr(data, '\0', size) ? -EINVAL : ret, got;
    bool b;
    double f;
    int32_t s;
    uint32_t u;

    memcpy(span, data, size);
    switch (type) {
    case HMK_TYPE_BIT:
        got = hmk_value_text_bit(span, size, &b);
        if (got != want || (got == 0 && b != v->b))
            abort();
        break;
    case HMK_TYPE_FLOAT:
        got = hmk_value_text_float(span, size, &f);
        if (got != want || (got == 0 && memcmp(&f, &v->f, sizeof(f))))
            abort();
        break;
    case HMK_TYPE_S32:
        got = hmk_value_text_s32(span, size, &s);
        if (got != want || (got == 0 && s != v->s))
            abort();
        break;
    case HMK_TYPE_U32:
        got = hmk_value_text_u32(span, size, &u);
        if (got != want || (got == 0 && u != v->u))
            abort();
        break;
    default:
        break;
    }
    free(span);
}

/* The bridge's safe= (one slot of the type) agrees with hmk_value_parse. */
static void check_safe(enum hmk_type type, const char *text, int ret, const hmk_value *v)
{
    static struct hmk_pinspec ps; /* 64 KiB: not on the stack */
    char err[HMK_ERR_LEN];
    uint64_t enc = 0;
    int got;

    if (type < HMK_TYPE_BIT || type > HMK_TYPE_U32 || !*text || strchr(text, ',') ||
        !strcmp(text, "hold"))
        return;
    if (hmk_pinspec_parse("fuzz", 1, NULL, &ps, err, sizeof(err)) != 0)
        abort();
    ps.pin[0].type = (uint8_t)type; /* HMK_RT_* equals HMK_TYPE_* */
    got = hmk_pinspec_slot_safe(&ps, text, err, sizeof(err));
    if ((got == 0) != (ret == 0) || (got < 0 && got != -EINVAL))
        abort();
    if (got < 0) {
        if (ps.pin[0].policy != HMK_POLICY_HOLD)
            abort();
        return;
    }
    switch (type) {
    case HMK_TYPE_BIT:   enc = v->b; break;
    case HMK_TYPE_FLOAT: enc = hmk_enc_float(v->f); break;
    case HMK_TYPE_S32:   enc = hmk_enc_s32(v->s); break;
    case HMK_TYPE_U32:   enc = v->u; break;
    }
    if (ps.pin[0].policy != HMK_POLICY_SAFE || ps.pin[0].safe_value != enc)
        abort();
}

static int same_bits(const hmk_value *a, const hmk_value *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case HMK_TYPE_BIT:   return a->b == b->b;
    case HMK_TYPE_FLOAT: return memcmp(&a->f, &b->f, sizeof(a->f)) == 0;
    case HMK_TYPE_S32:   return a->s == b->s;
    case HMK_TYPE_U32:   return a->u == b->u;
    }
    return 0;
}

/* formats v into a buffer of exactly `len` bytes, checks the contract */
static int format_checked(const hmk_value *v, size_t len, char *out, size_t outlen)
{
    char *buf = len ? malloc(len) : NULL;
    char dummy[1];
    int n = hmk_value_format(v, buf ? buf : dummy, len);

    if (n >= 0) {
        if ((size_t)n >= len || strlen(buf) != (size_t)n)
            abort();
        if (out && (size_t)n < outlen)
            memcpy(out, buf, (size_t)n + 1);
    } else if (n != -ENOSPC) {
        abort();
    }
    free(buf);
    return n;
}

static void round_trip(const hmk_value *v)
{
    char text[64];
    hmk_value back;
    int n, ret;

    n = format_checked(v, sizeof(text), text, sizeof(text));
    if (n < 0)
        abort(); /* 64 bytes hold any value */
    ret = hmk_value_parse(v->type, text, &back);
    if (ret != 0 || !same_bits(v, &back))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum hmk_type type;
    size_t buflen;
    hmk_value v;
    int ret;

    if (size < 2)
        return 0;
    type = (enum hmk_type)(data[0] & 7);
    buflen = data[1];
    data += 2;
    size -= 2;

    if (data[-2] & 8) {
        /* format arbitrary bits */
        uint64_t raw = 0;
        memcpy(&raw, data, size < 8 ? size : 8);
        memset(&v, 0, sizeof(v));
        v.type = type;
        switch (type) {
        case HMK_TYPE_BIT:   v.b = raw & 1; break;
        case HMK_TYPE_FLOAT: memcpy(&v.f, &raw, sizeof(v.f)); break;
        case HMK_TYPE_S32:   v.s = (int32_t)(uint32_t)raw; break;
        case HMK_TYPE_U32:   v.u = (uint32_t)raw; break;
        default:
            if (hmk_value_format(&v, (char[8]){ 0 }, 8) != -EINVAL)
                abort();
            return 0;
        }
        format_checked(&v, buflen, NULL, 0);
        if (type != HMK_TYPE_FLOAT || isfinite(v.f))
            round_trip(&v);
        return 0;
    }

    /* parse text */
    {
        char *text = malloc(size + 1);
        memcpy(text, data, size);
        text[size] = '\0';
        memset(&v, 0, sizeof(v));
        ret = hmk_value_parse(type, text, &v);
        check_reference(type, text, ret, &v);
        check_span(type, data, size, ret, &v);
        check_safe(type, text, ret, &v);
        if (ret == 0) {
            if (type < HMK_TYPE_BIT || type > HMK_TYPE_U32 || v.type != type)
                abort();
            if (type == HMK_TYPE_FLOAT && !isfinite(v.f))
                abort();
            round_trip(&v);
            format_checked(&v, buflen, NULL, 0);
        } else if (ret != -EINVAL && ret != -ERANGE) {
            abort();
        }
        free(text);
    }
    return 0;
}
