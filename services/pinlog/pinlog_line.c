/* pinlog_line.c - see pinlog_line.h */
#include "pinlog_line.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Appends printf output at *pos; false once the buffer is full. */
static bool plog_put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool plog_put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*pos >= len)
        return false;
    va_start(ap, fmt);
    n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len - *pos)
        return false;
    *pos += (size_t)n;
    return true;
}

/* Region names are [A-Za-z0-9_.-] today; escaping keeps the line valid
 * JSON even if that ever widens. */
static bool plog_put_str(char *buf, size_t len, size_t *pos, const char *s)
{
    bool ok = plog_put(buf, len, pos, "\"");

    for (; ok && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            ok = plog_put(buf, len, pos, "\\%c", c);
        else if (c < 0x20)
            ok = plog_put(buf, len, pos, "\\u%04x", c);
        else
            ok = plog_put(buf, len, pos, "%c", c);
    }
    return ok && plog_put(buf, len, pos, "\"");
}

static bool plog_put_value(char *buf, size_t len, size_t *pos, const hmk_value *v)
{
    char text[64];

    if (v->type == HMK_TYPE_BIT)
        return plog_put(buf, len, pos, "%s", v->b ? "true" : "false");
    if (v->type == HMK_TYPE_FLOAT && !isfinite(v->f))
        return plog_put(buf, len, pos, "\"%s\"", isnan(v->f) ? "nan" : v->f > 0 ? "inf" : "-inf");
    /* shortest text that reads back exactly; %g output is valid JSON */
    return hmk_value_format(v, text, sizeof(text)) >= 0 && plog_put(buf, len, pos, "%s", text);
}

int plog_format(const struct plog_rec *r, char *buf, size_t len)
{
    struct tm tm;
    char stamp[32];
    size_t pos = 0;
    bool lost = r->lost > 0;

    if (!lost && (r->value.type < HMK_TYPE_BIT || r->value.type > HMK_TYPE_U32))
        return -EINVAL;
    if (!gmtime_r(&r->wall.tv_sec, &tm) ||
        !strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm))
        return -EINVAL;
    if (!plog_put(buf, len, &pos,
                  "{\"time\":\"%s.%03ldZ\",\"mono_ns\":%" PRIu64 ",\"cycle\":%" PRIu64 ",\"pin\":",
                  stamp, r->wall.tv_nsec / 1000000L, r->mono_ns, r->cycle) ||
        !plog_put_str(buf, len, &pos, lost ? "" : r->pin))
        return -ENOSPC;
    if (lost) {
        /* the reader fell behind the bridge's stream: how many it missed */
        if (!plog_put(buf, len, &pos, ",\"type\":\"lost\",\"value\":%" PRIu64 "}\n", r->lost))
            return -ENOSPC;
        return (int)pos;
    }
    if (!plog_put(buf, len, &pos, ",\"type\":\"%s\",\"value\":", hmk_type_name(r->value.type)) ||
        !plog_put_value(buf, len, &pos, &r->value) || !plog_put(buf, len, &pos, "}\n"))
        return -ENOSPC;
    return (int)pos;
}

int plog_rot_name(char *buf, size_t len, const char *base, unsigned i)
{
    int n = i ? snprintf(buf, len, "%s.%u", base, i) : snprintf(buf, len, "%s", base);

    return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : n;
}

bool plog_need_rotate(uint64_t size, size_t line, uint64_t max_bytes)
{
    return max_bytes > 0 && size > 0 && size + line > max_bytes;
}

int64_t plog_tail_keep(const char *tail, size_t n, uint64_t size)
{
    const char *nl;

    if (n == 0 || tail[n - 1] == '\n')
        return (int64_t)size;
    nl = memrchr(tail, '\n', n);
    if (nl)
        return (int64_t)(size - n + (size_t)(nl - tail) + 1);
    /* no newline at all: the whole file is one torn line, or foreign */
    return size == n ? 0 : -EBADMSG;
}
