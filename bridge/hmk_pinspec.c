/*
 * Parser for the bridge's loadrt parameters. Plain C with no dependency on
 * rtapi so unit tests and fuzzers can build it alone; the module includes
 * this file directly (halcompile builds one source file per module).
 */
#include "hmk_pinspec.h"
#include "../include/hmk_value_syntax.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ps_fail(int ret, char *err, unsigned errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int ps_fail(int ret, char *err, unsigned errlen, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return ret;
}

static int ps_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int ps_name_char(char c)
{
    return ps_is_alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* A HAL-style name: starts with a letter, name characters, no empty
 * component ("a..b"), no trailing dot. */
static int ps_name_ok(const char *s, size_t len)
{
    if (len == 0 || !ps_is_alpha(s[0]) || s[len - 1] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!ps_name_char(s[i]))
            return 0;
        if (s[i] == '.' && i + 1 < len && s[i + 1] == '.')
            return 0;
    }
    return 1;
}

int hmk_pinspec_check_prefix(const char *prefix, char *err, unsigned errlen)
{
    size_t len = prefix ? strlen(prefix) : 0;

    /* the longest generated name is "<prefix>.update-count" */
    if (!ps_name_ok(prefix ? prefix : "", len) || len > HMK_HAL_NAME_LEN - 13)
        return ps_fail(-EINVAL, err, errlen,
                       "prefix='%s': must be 1-34 HAL name characters starting with a letter",
                       prefix ? prefix : "");
    return 0;
}

int hmk_pinspec_check_region(const char *region, char *err, unsigned errlen)
{
    size_t len = region ? strlen(region) : 0;

    if (len == 0 || len > 200 || !ps_is_alpha(region[0]))
        goto bad;
    for (size_t i = 0; i < len; i++)
        if (!ps_name_char(region[i]) || region[i] == '.')
            goto bad;
    return 0;
bad:
    return ps_fail(-EINVAL, err, errlen,
                   "region='%s': must be 1-200 of [A-Za-z0-9_-] starting with a letter",
                   region ? region : "");
}

int hmk_pinspec_parse_mode(const char *mode, unsigned *out, char *err, unsigned errlen)
{
    unsigned v = 0;
    size_t len = mode ? strlen(mode) : 0;

    if (len < 3 || len > 4)
        goto bad;
    for (size_t i = 0; i < len; i++) {
        if (mode[i] < '0' || mode[i] > '7')
            goto bad;
        v = v * 8 + (unsigned)(mode[i] - '0');
    }
    /* the creator must keep read+write, and nobody gets execute bits */
    if ((v & 0600) != 0600 || (v & 0111) || v > 0777)
        goto bad;
    *out = v;
    return 0;
bad:
    return ps_fail(-EINVAL, err, errlen,
                   "mode='%s': must be octal like 0660, owner rw, no execute bits",
                   mode ? mode : "");
}

static int ps_type(const char *s, size_t len)
{
    static const char *const names[] = { NULL, "bit", "float", "s32", "u32" };

    for (int t = HMK_RT_BIT; t <= HMK_RT_U32; t++)
        if (strlen(names[t]) == len && strncmp(s, names[t], len) == 0)
            return t;
    return -1;
}

static int ps_dir(const char *s, size_t len)
{
    if (len == 2 && strncmp(s, "in", 2) == 0)
        return HMK_RD_IN;
    if (len == 3 && strncmp(s, "out", 3) == 0)
        return HMK_RD_OUT;
    if (len == 2 && strncmp(s, "io", 2) == 0)
        return HMK_RD_IO;
    return -1;
}

/* "hold" (or nothing), or a value of the pin's type in the one value
 * syntax (hmk_value_syntax.h, the same as halpoke's), encoded as the region
 * encodes values. Returns 0, or -EINVAL / -ERANGE. */
static int ps_policy(const char *s, size_t len, uint8_t type, struct hmk_pin_desc *p)
{
    uint64_t enc = 0;
    int ret;

    if (len == 0 || (len == 4 && strncmp(s, "hold", 4) == 0)) {
        p->policy = HMK_POLICY_HOLD;
        return 0;
    }
    switch (type) {
    case HMK_RT_BIT: {
        bool b = false;
        ret = hmk_value_text_bit(s, len, &b);
        enc = b;
        break;
    }
    case HMK_RT_FLOAT: {
        double d = 0.0;
        ret = hmk_value_text_float(s, len, &d);
        enc = hmk_enc_float(d);
        break;
    }
    case HMK_RT_S32: {
        int32_t v = 0;
        ret = hmk_value_text_s32(s, len, &v);
        enc = hmk_enc_s32(v);
        break;
    }
    default: {
        uint32_t v = 0;
        ret = hmk_value_text_u32(s, len, &v);
        enc = v;
        break;
    }
    }
    if (ret < 0)
        return ret;
    p->policy = HMK_POLICY_SAFE;
    p->safe_value = enc;
    return 0;
}

static int ps_exists(const struct hmk_pinspec *o, const char *name, size_t len)
{
    for (unsigned i = 0; i < o->n; i++)
        if (strncmp(o->pin[i].name, name, len) == 0 && o->pin[i].name[len] == '\0')
            return 1;
    return 0;
}

/* Names the bridge itself creates beside the pins. */
static int ps_reserved(const char *name, size_t len)
{
    static const char *const r[] = { "connected", "update-count", "error-count", "fault",
                                     "fault-reset", "update", "read", "write" };
    if (len >= 4 && strncmp(name, "pin.", 4) == 0)
        return 1; /* the slot namespace */
    for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
        if (strlen(r[i]) == len && strncmp(name, r[i], len) == 0)
            return 1;
    return 0;
}

static int ps_add_slots(const char *prefix, int count, struct hmk_pinspec *o,
                        char *err, unsigned errlen)
{
    if (count < 0 || count > (int)HMK_MAX_PINS)
        return ps_fail(-ERANGE, err, errlen, "count=%d: must be 0..%u", count, HMK_MAX_PINS);
    /* "<prefix>.pin.NNNN.out" must fit */
    if (count > 0 && strlen(prefix) + 5 + (count > 1000 ? 4 : 3) + 4 > HMK_HAL_NAME_LEN)
        return ps_fail(-EINVAL, err, errlen, "count=%d: pin names too long for prefix='%s'",
                       count, prefix);
    for (int i = 0; i < count; i++) {
        struct hmk_pin_desc *p = &o->pin[o->n++];
        snprintf(p->name, sizeof(p->name), "pin.%d", i);
        p->type = HMK_RT_FLOAT;
        p->dir = HMK_RD_IO;
        p->flags = HMK_PIN_SLOT;
    }
    return 0;
}

static int ps_add_named(const char *prefix, const char *item, size_t len,
                        struct hmk_pinspec *o, char *err, unsigned errlen)
{
    const char *c1 = memchr(item, ':', len);
    const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - item)) : NULL;
    const char *c3 = c2 ? memchr(c2 + 1, ':', len - (size_t)(c2 + 1 - item)) : NULL;
    size_t nlen, tlen, dlen, plen = 0;
    int type, dir;

    if (!c1 || !c2 || (c3 && memchr(c3 + 1, ':', len - (size_t)(c3 + 1 - item))))
        return ps_fail(-EINVAL, err, errlen,
                       "pins: '%.*s': expected NAME:TYPE:DIR[:POLICY]", (int)len, item);
    nlen = (size_t)(c1 - item);
    tlen = (size_t)(c2 - c1 - 1);
    dlen = (c3 ? (size_t)(c3 - item) : len) - (size_t)(c2 + 1 - item);
    if (c3)
        plen = len - (size_t)(c3 + 1 - item);
    if (!ps_name_ok(item, nlen))
        return ps_fail(-EINVAL, err, errlen,
                       "pins: '%.*s': name must start with a letter and use [A-Za-z0-9_.-]",
                       (int)nlen, item);
    if (strlen(prefix) + 1 + nlen > HMK_HAL_NAME_LEN)
        return ps_fail(-EINVAL, err, errlen, "pins: '%s.%.*s': longer than HAL's %d characters",
                       prefix, (int)nlen, item, HMK_HAL_NAME_LEN);
    if (ps_reserved(item, nlen))
        return ps_fail(-EINVAL, err, errlen, "pins: '%.*s': name is reserved by the bridge",
                       (int)nlen, item);
    if (ps_exists(o, item, nlen))
        return ps_fail(-EINVAL, err, errlen, "pins: '%.*s': declared twice", (int)nlen, item);
    type = ps_type(c1 + 1, tlen);
    if (type < 0)
        return ps_fail(-EINVAL, err, errlen,
                       "pins: '%.*s': type '%.*s' is not bit, float, s32 or u32",
                       (int)nlen, item, (int)tlen, c1 + 1);
    dir = ps_dir(c2 + 1, dlen);
    if (dir < 0)
        return ps_fail(-EINVAL, err, errlen,
                       "pins: '%.*s': direction '%.*s' is not in, out or io",
                       (int)nlen, item, (int)dlen, c2 + 1);
    if (o->n >= HMK_MAX_PINS)
        return ps_fail(-E2BIG, err, errlen, "pins: more than %u pins in all", HMK_MAX_PINS);
    struct hmk_pin_desc *p = &o->pin[o->n];
    memset(p, 0, sizeof(*p));
    if (c3 && dir == HMK_RD_IN)
        return ps_fail(-EINVAL, err, errlen,
                       "pins: '%.*s': an in pin has no fault policy (HAL drives it)",
                       (int)nlen, item);
    if (c3 && ps_policy(c3 + 1, plen, (uint8_t)type, p) < 0)
        return ps_fail(-EINVAL, err, errlen,
                       "pins: '%.*s': policy '%.*s' is neither hold nor a %.*s value",
                       (int)nlen, item, (int)plen, c3 + 1, (int)tlen, c1 + 1);
    o->n++;
    memcpy(p->name, item, nlen);
    p->name[nlen] = '\0';
    p->type = (uint8_t)type;
    p->dir = (uint8_t)dir;
    return 0;
}

int hmk_pinspec_parse(const char *prefix, int count, const char *pins,
                      struct hmk_pinspec *out, char *err, unsigned errlen)
{
    const char *s = pins ? pins : "";
    int ret;

    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    ret = hmk_pinspec_check_prefix(prefix, err, errlen);
    if (ret < 0)
        return ret;
    if (count == -1)
        count = *s ? 0 : HMK_DEFAULT_COUNT;
    ret = ps_add_slots(prefix, count, out, err, errlen);
    if (ret < 0)
        return ret;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);

        ret = ps_add_named(prefix, s, len, out, err, errlen);
        if (ret < 0)
            return ret;
        s += len;
        if (*s == ',' && *++s == '\0')
            return ps_fail(-EINVAL, err, errlen, "pins: trailing ','");
    }
    if (out->n == 0)
        return ps_fail(-EINVAL, err, errlen, "count=0 and no pins=: the bridge would have no pins");
    return 0;
}

/* Walks a comma-separated per-slot list (types=, safe=), calling apply for
 * each item with the slot it belongs to; names the list in errors. */
static int ps_slot_list(struct hmk_pinspec *ps, const char *what, const char *list,
                        int (*apply)(struct hmk_pin_desc *p, const char *s, size_t len),
                        const char *expect, char *err, unsigned errlen)
{
    const char *s = list ? list : "";
    unsigned slots = 0, i = 0;

    while (slots < ps->n && (ps->pin[slots].flags & HMK_PIN_SLOT))
        slots++;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);

        if (i >= slots)
            return ps_fail(-EINVAL, err, errlen, "%s: more items than the %u slots (count=)",
                           what, slots);
        if (apply(&ps->pin[i], s, len) < 0)
            return ps_fail(-EINVAL, err, errlen, "%s: item %u '%.*s' is not %s", what, i,
                           (int)len, s, expect);
        i++;
        s += len;
        if (*s == ',')
            s++;
    }
    return 0;
}

static int ps_apply_type(struct hmk_pin_desc *p, const char *s, size_t len)
{
    int t = len ? ps_type(s, len) : HMK_RT_FLOAT;

    if (t < 0)
        return -EINVAL;
    p->type = (uint8_t)t;
    return 0;
}

static int ps_apply_safe(struct hmk_pin_desc *p, const char *s, size_t len)
{
    return ps_policy(s, len, p->type, p);
}

int hmk_pinspec_slot_types(struct hmk_pinspec *ps, const char *types, char *err, unsigned errlen)
{
    return ps_slot_list(ps, "types", types, ps_apply_type, "bit, float, s32 or u32", err, errlen);
}

int hmk_pinspec_slot_safe(struct hmk_pinspec *ps, const char *safe, char *err, unsigned errlen)
{
    return ps_slot_list(ps, "safe", safe, ps_apply_safe, "hold or a value of the slot's type",
                        err, errlen);
}
