/*
 * fmt.c - the daemon's snprintf subset, see fmt.h.
 */
#include "fmt.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The output so far: bytes past cap are counted, not stored. */
struct out {
    char *buf;
    size_t cap; /* bytes that may be stored, the NUL's place excluded */
    size_t n;
};

static void put(struct out *o, char c)
{
    if (o->n < o->cap)
        o->buf[o->n] = c;
    o->n++;
}

static void put_n(struct out *o, char c, int count)
{
    while (count-- > 0)
        put(o, c);
}

struct spec {
    bool left, zero;
    int width;
    int prec; /* -1: none */
};

static void put_str(struct out *o, const struct spec *sp, const char *s)
{
    size_t n;
    int pad;

    if (!s)
        s = "(null)";
    n = sp->prec >= 0 ? strnlen(s, (size_t)sp->prec) : strlen(s);
    pad = sp->width > (int)n ? sp->width - (int)n : 0;
    if (!sp->left)
        put_n(o, ' ', pad);
    for (size_t i = 0; i < n; i++)
        put(o, s[i]);
    if (sp->left)
        put_n(o, ' ', pad);
}

/* An integer: magnitude v, a '-' when neg, in base 10 or 16. */
static void put_int(struct out *o, const struct spec *sp, uintmax_t v, bool neg, unsigned base)
{
    char digits[3 * sizeof(uintmax_t)];
    int nd = 0, zeros, pad, len;

    while (v) {
        digits[nd++] = "0123456789abcdef"[v % base];
        v /= base;
    }
    /* "%.0d" of 0 is empty; without a precision it is "0" */
    zeros = sp->prec > nd ? sp->prec - nd : (nd == 0 && sp->prec < 0 ? 1 : 0);
    len = neg + zeros + nd;
    pad = sp->width > len ? sp->width - len : 0;
    if (sp->zero && !sp->left && sp->prec < 0) {
        zeros += pad; /* the zeros go after the sign */
        pad = 0;
    }
    if (!sp->left)
        put_n(o, ' ', pad);
    if (neg)
        put(o, '-');
    put_n(o, '0', zeros);
    while (nd)
        put(o, digits[--nd]);
    if (sp->left)
        put_n(o, ' ', pad);
}

enum len_mod { LM_NONE, LM_HH, LM_H, LM_L, LM_LL, LM_Z, LM_J, LM_T };

static const char *parse_len(const char *f, enum len_mod *lm)
{
    switch (*f) {
    case 'h':
        if (f[1] == 'h') {
            *lm = LM_HH;
            return f + 2;
        }
        *lm = LM_H;
        return f + 1;
    case 'l':
        if (f[1] == 'l') {
            *lm = LM_LL;
            return f + 2;
        }
        *lm = LM_L;
        return f + 1;
    case 'z': *lm = LM_Z; return f + 1;
    case 'j': *lm = LM_J; return f + 1;
    case 't': *lm = LM_T; return f + 1;
    default: *lm = LM_NONE; return f;
    }
}

static intmax_t arg_signed(va_list *ap, enum len_mod lm)
{
    switch (lm) {
    case LM_HH: return (signed char)va_arg(*ap, int);
    case LM_H: return (short)va_arg(*ap, int);
    case LM_L: return va_arg(*ap, long);
    case LM_LL: return va_arg(*ap, long long);
    case LM_Z: return va_arg(*ap, ptrdiff_t); /* signed size_t: same width */
    case LM_J: return va_arg(*ap, intmax_t);
    case LM_T: return va_arg(*ap, ptrdiff_t);
    default: return va_arg(*ap, int);
    }
}

static uintmax_t arg_unsigned(va_list *ap, enum len_mod lm)
{
    switch (lm) {
    case LM_HH: return (unsigned char)va_arg(*ap, unsigned);
    case LM_H: return (unsigned short)va_arg(*ap, unsigned);
    case LM_L: return va_arg(*ap, unsigned long);
    case LM_LL: return va_arg(*ap, unsigned long long);
    case LM_Z: return va_arg(*ap, size_t);
    case LM_J: return va_arg(*ap, uintmax_t);
    case LM_T: return (uintmax_t)va_arg(*ap, ptrdiff_t);
    default: return va_arg(*ap, unsigned);
    }
}

/* Digits or '*' at f into *v; returns past them. */
static const char *parse_num(const char *f, int *v, va_list *ap)
{
    if (*f == '*') {
        *v = va_arg(*ap, int);
        return f + 1;
    }
    *v = 0;
    while (*f >= '0' && *f <= '9') {
        if (*v < INT_MAX / 10)
            *v = *v * 10 + (*f - '0');
        f++;
    }
    return f;
}

/* One conversion after its '%'; returns past it, or NULL for one we do not
 * know (the caller stops there). */
static const char *convert(struct out *o, const char *f, va_list *ap, int saved_errno)
{
    struct spec sp = { .prec = -1 };
    enum len_mod lm;

    for (;; f++) {
        if (*f == '-')
            sp.left = true;
        else if (*f == '0')
            sp.zero = true;
        else
            break;
    }
    f = parse_num(f, &sp.width, ap);
    if (sp.width < 0) { /* a negative '*' width means '-' */
        sp.left = true;
        sp.width = sp.width == INT_MIN ? INT_MAX : -sp.width;
    }
    if (*f == '.') {
        f = parse_num(f + 1, &sp.prec, ap);
        if (sp.prec < 0)
            sp.prec = -1; /* a negative '*' precision is none */
    }
    f = parse_len(f, &lm);
    switch (*f) {
    case '%': put(o, '%'); break;
    case 'c': {
        char s[2] = { (char)va_arg(*ap, int), '\0' };
        struct spec one = sp;
        one.prec = 1;
        if (s[0] == '\0') { /* a NUL is one character of output */
            put_n(o, ' ', sp.left ? 0 : sp.width - 1);
            put(o, '\0');
            put_n(o, ' ', sp.left ? sp.width - 1 : 0);
            break;
        }
        put_str(o, &one, s);
        break;
    }
    case 's': put_str(o, &sp, va_arg(*ap, const char *)); break;
    case 'm': put_str(o, &sp, strerror(saved_errno)); break;
    case 'd':
    case 'i': {
        intmax_t v = arg_signed(ap, lm);
        put_int(o, &sp, v < 0 ? -(uintmax_t)v : (uintmax_t)v, v < 0, 10);
        break;
    }
    case 'u': put_int(o, &sp, arg_unsigned(ap, lm), false, 10); break;
    case 'x': put_int(o, &sp, arg_unsigned(ap, lm), false, 16); break;
    default: return NULL;
    }
    return f + 1;
}

int fmt_v(char *buf, size_t len, const char *format, va_list ap)
{
    struct out o = { .buf = buf, .cap = len ? len - 1 : 0 };
    int saved_errno = errno;
    va_list aq;

    va_copy(aq, ap);
    for (const char *f = format; *f;) {
        if (*f != '%') {
            put(&o, *f++);
            continue;
        }
        f = convert(&o, f + 1, &aq, saved_errno);
        if (!f) {
            put(&o, '%');
            put(&o, '?');
            break;
        }
    }
    va_end(aq);
    if (len)
        buf[o.n < o.cap ? o.n : o.cap] = '\0';
    errno = saved_errno;
    return o.n > INT_MAX ? INT_MAX : (int)o.n;
}

int fmt(char *buf, size_t len, const char *format, ...)
{
    va_list ap;
    int n;

    va_start(ap, format);
    n = fmt_v(buf, len, format, ap);
    va_end(ap);
    return n;
}

char *fmt_dup(const char *format, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, format);
    n = fmt_v(NULL, 0, format, ap);
    va_end(ap);
    s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, format);
    fmt_v(s, (size_t)n + 1, format, ap);
    va_end(ap);
    return s;
}
