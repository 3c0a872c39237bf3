/*
 * gw_json.c - JSON text for mqtt-gateway(1); see gw_json.h.
 */
#include "gw_json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gw_buf_reset(struct gw_buf *b)
{
    b->len = 0;
    b->err = 0;
    if (b->p)
        b->p[0] = '\0';
}

void gw_buf_free(struct gw_buf *b)
{
    free(b->p);
    *b = (struct gw_buf){ 0 };
}

static bool gw_buf_room(struct gw_buf *b, size_t more)
{
    size_t cap = b->cap ? b->cap : 256;
    char *p;

    if (b->err)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    while (cap < b->len + more + 1)
        cap *= 2;
    p = realloc(b->p, cap);
    if (!p) {
        b->err = -ENOMEM;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static void gw_buf_add(struct gw_buf *b, const char *s, size_t n)
{
    if (!gw_buf_room(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void gw_buf_raw(struct gw_buf *b, const char *s)
{
    gw_buf_add(b, s, strlen(s));
}

void gw_buf_fmt(struct gw_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(small)) {
        if (!b->err)
            b->err = -ENAMETOOLONG; /* callers format numbers and short words only */
        return;
    }
    gw_buf_add(b, small, (size_t)n);
}

void gw_buf_str(struct gw_buf *b, const char *s)
{
    gw_buf_add(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char esc[2] = { '\\', (char)*c };
            gw_buf_add(b, esc, 2);
        } else if (*c < 0x20 || *c == 0x7f) {
            gw_buf_fmt(b, "\\u%04x", *c);
        } else {
            gw_buf_add(b, (const char *)c, 1);
        }
    }
    gw_buf_add(b, "\"", 1);
}

void gw_buf_value(struct gw_buf *b, const hmk_value *v)
{
    char text[64];

    if (v->type == HMK_TYPE_BIT)
        gw_buf_raw(b, v->b ? "true" : "false");
    else if (v->type == HMK_TYPE_FLOAT && !isfinite(v->f))
        gw_buf_raw(b, "null");
    else if (hmk_value_format(v, text, sizeof(text)) > 0)
        gw_buf_raw(b, text); /* %g and decimal integers are JSON numbers */
    else if (!b->err)
        b->err = -EINVAL;
}

int gw_ha_id(char *out, size_t len, const char *name)
{
    size_t n = strlen(name);

    if (n + 1 > len)
        return -ENAMETOOLONG;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
        out[i] = keep ? c : '_';
    }
    out[n] = '\0';
    return (int)n;
}
