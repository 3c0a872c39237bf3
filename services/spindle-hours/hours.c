/* hours.c - see hours.h */
#include "hours.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define HOURS_MAGIC "spindle-hours 1\ntotal_ms "

void hours_init(struct hours_acc *a, uint64_t total_ns, uint64_t now_ns)
{
    a->total_ns = total_ns;
    a->mark_ns = now_ns;
    a->running = false;
}

void hours_update(struct hours_acc *a, uint64_t now_ns)
{
    if (a->running && now_ns > a->mark_ns)
        a->total_ns += now_ns - a->mark_ns;
    if (now_ns > a->mark_ns)
        a->mark_ns = now_ns;
}

void hours_set_running(struct hours_acc *a, bool running, uint64_t now_ns)
{
    hours_update(a, now_ns);
    a->running = running;
}

void hours_skip(struct hours_acc *a, uint64_t upto_ns, uint64_t now_ns)
{
    hours_update(a, upto_ns);
    a->mark_ns = now_ns;
}

double hours_total_h(const struct hours_acc *a)
{
    return (double)a->total_ns / 3.6e12;
}

int hours_state_format(uint64_t total_ms, char *buf, size_t len)
{
    int n = snprintf(buf, len, HOURS_MAGIC "%" PRIu64 "\n", total_ms);

    return (n < 0 || (size_t)n >= len) ? -ENOSPC : n;
}

int hours_state_parse(const char *buf, size_t len, uint64_t *total_ms)
{
    size_t m = strlen(HOURS_MAGIC), i;
    uint64_t v = 0;

    if (len < m + 2 || memcmp(buf, HOURS_MAGIC, m) != 0 || buf[len - 1] != '\n')
        return -EBADMSG;
    if (buf[m] == '0' && len != m + 2)
        return -EBADMSG; /* leading zero: not something we wrote */
    for (i = m; i < len - 1; i++) {
        if (buf[i] < '0' || buf[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return -EBADMSG;
        v = v * 10 + (uint64_t)(buf[i] - '0');
    }
    if (v > UINT64_MAX / 1000000u)
        return -EBADMSG; /* would overflow the nanosecond count */
    *total_ms = v;
    return 0;
}
