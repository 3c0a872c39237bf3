/* pinmon.c - see pinmon.h */
#include "pinmon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pinmon_bucket_init(struct pinmon_bucket *b, unsigned rate_per_s, uint64_t now_ms)
{
    memset(b, 0, sizeof(*b));
    b->rate = rate_per_s;
    b->burst = rate_per_s; /* at most one second's worth in a burst */
    b->tokens = b->burst;
    b->last_ms = now_ms;
}

static void refill(struct pinmon_bucket *b, uint64_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_ms = now_ms;
    }
}

uint64_t pinmon_bucket_flush(struct pinmon_bucket *b, uint64_t now_ms)
{
    uint64_t n = b->suppressed;

    refill(b, now_ms);
    if (!n || b->tokens < 1.0)
        return 0;
    b->tokens -= 1.0;
    b->suppressed = 0;
    return n;
}

bool pinmon_bucket_take(struct pinmon_bucket *b, uint64_t now_ms)
{
    refill(b, now_ms);
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    b->suppressed++;
    return false;
}

bool pinmon_value_equal(const hmk_value *a, const hmk_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case HMK_TYPE_BIT: return a->b == b->b;
    case HMK_TYPE_FLOAT: return a->f == b->f || (a->f != a->f && b->f != b->f);
    case HMK_TYPE_S32: return a->s == b->s;
    case HMK_TYPE_U32: return a->u == b->u;
    }
    return true;
}

int pinmon_format(const hmk_value *v, char *buf, size_t len)
{
    if (v->type != HMK_TYPE_FLOAT)
        return hmk_value_format(v, buf, len);
    /* whole numbers as such: "1500", not the shorter-precision "1.5e+03" */
    if (v->f == (double)(long long)v->f && v->f > -1e15 && v->f < 1e15) {
        int n = snprintf(buf, len, "%.0f", v->f);
        return n < 0 || (size_t)n >= len ? -ENOSPC : n;
    }
    for (int prec = 1; prec <= 17; prec++) {
        int n = snprintf(buf, len, "%.*g", prec, v->f);
        if (n < 0 || (size_t)n >= len)
            return -ENOSPC;
        if (strtod(buf, NULL) == v->f || v->f != v->f)
            return n;
    }
    return (int)strlen(buf);
}
