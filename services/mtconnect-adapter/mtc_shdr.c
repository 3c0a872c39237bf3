/*
 * SHDR formatting and Devices.xml: pure functions over the mapping.
 *
 * SHDR (MTConnect's adapter protocol) is one line per time stamp:
 *   2026-12-02T13:28:26.123Z|key|value|key|value
 * with a condition on a line of its own:
 *   2026-12-02T13:28:26.123Z|key|LEVEL|nativeCode|nativeSeverity|qualifier|text
 * A sample's value must parse as a number (cppagent drops it otherwise), so
 * a NaN or infinite float is sent as UNAVAILABLE.
 */
#include "mtc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int mtc_format_time(uint64_t utc_ms, char *buf, size_t len)
{
    time_t t = (time_t)(utc_ms / 1000);
    struct tm tm;
    int n;

    if (!gmtime_r(&t, &tm))
        return -EINVAL;
    n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(utc_ms % 1000));
    return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

void mtc_sanitize(char *s)
{
    for (; *s; s++)
        if (*s == '|')
            *s = '/';
        else if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

const char *mtc_item_unavailable(const struct mtc_item *it)
{
    return it->kind == MTC_CONDITION ? "UNAVAILABLE||||" : "UNAVAILABLE";
}

bool mtc_item_passes(const struct mtc_item *it, double last, double now)
{
    if (isnan(last) || isnan(now) || it->deadband <= 0)
        return true;
    return fabs(now - last) >= it->deadband;
}

static int64_t as_int(const hmk_value *v, bool invert)
{
    switch (v->type) {
    case HMK_TYPE_BIT: return (v->b != invert) ? 1 : 0;
    case HMK_TYPE_S32: return v->s;
    case HMK_TYPE_U32: return v->u;
    default:           return 0;
    }
}

static int put(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int put(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len)
        return -ENOSPC;
    mtc_sanitize(buf);
    return n;
}

static int event_value(const struct mtc_item *it, const hmk_value *v, char *buf, size_t len)
{
    int64_t n;

    if (v->type == HMK_TYPE_FLOAT)
        return isfinite(v->f) ? put(buf, len, "%.*g", it->precision, v->f)
                              : put(buf, len, "UNAVAILABLE");
    n = as_int(v, it->invert);
    for (unsigned k = 0; k < it->nmap; k++)
        if (it->map[k].from == n)
            return put(buf, len, "%s", it->map[k].to);
    if (it->dflt[0])
        return put(buf, len, "%s", it->dflt);
    return put(buf, len, "%lld", (long long)n);
}

int mtc_item_value(const struct mtc_item *it, const hmk_value *v, char *buf, size_t len,
                   double *num)
{
    double d;

    *num = NAN;
    switch (it->kind) {
    case MTC_CONDITION:
        if (as_int(v, it->invert)) {
            /* the fields were checked for '|' when the file was read */
            int n = snprintf(buf, len, "%s|%s|%s|%s|%s", it->level, it->native_code,
                             it->native_severity, it->qualifier, it->text);
            return n < 0 || (size_t)n >= len ? -ENOSPC : n;
        }
        return snprintf(buf, len, "NORMAL||||") >= (int)len ? -ENOSPC : 10;
    case MTC_EVENT:
        return event_value(it, v, buf, len);
    case MTC_SAMPLE:
        d = v->type == HMK_TYPE_FLOAT ? v->f : (double)as_int(v, it->invert);
        d *= it->scale;
        if (!isfinite(d))
            return put(buf, len, "UNAVAILABLE");
        if (d == 0)
            d = 0; /* no "-0" */
        *num = d;
        return put(buf, len, "%.*g", it->precision, d);
    }
    return -EINVAL;
}

int mtc_buf_add(struct mtc_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->p, cap);
        if (!p)
            return -ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int mtc_buf_printf(struct mtc_buf *b, const char *fmt, ...)
{
    char tmp[MTC_VAL_MAX + MTC_KEY_MAX + 64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -ENOSPC;
    return mtc_buf_add(b, tmp, (size_t)n);
}

void mtc_buf_free(struct mtc_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

int mtc_lines(const struct mtc_config *c, const char *ts, const char *avail,
              char (*vals)[MTC_VAL_MAX], const bool *want, struct mtc_buf *out)
{
    size_t start = out->len;
    bool any = false;
    int ret = 0;

    ret = mtc_buf_printf(out, "%s", ts);
    if (avail) {
        ret = ret ? ret : mtc_buf_printf(out, "|%s|%s", c->avail_key, avail);
        any = true;
    }
    for (unsigned i = 0; i < c->nitems && !ret; i++)
        if (want[i] && c->item[i].kind != MTC_CONDITION) {
            ret = mtc_buf_printf(out, "|%s|%s", c->item[i].key, vals[i]);
            any = true;
        }
    if (any)
        ret = ret ? ret : mtc_buf_add(out, "\n", 1);
    else
        out->len = start; /* only conditions: no empty time-stamp line */
    for (unsigned i = 0; i < c->nitems && !ret; i++)
        if (want[i] && c->item[i].kind == MTC_CONDITION)
            ret = mtc_buf_printf(out, "%s|%s|%s\n", ts, c->item[i].key, vals[i]);
    if (ret)
        out->len = start;
    if (out->p)
        out->p[out->len] = '\0';
    return ret;
}

static const char *category(enum mtc_kind k)
{
    return k == MTC_SAMPLE ? "SAMPLE" : k == MTC_EVENT ? "EVENT" : "CONDITION";
}

/* All strings were checked for XML specials when the file was read. */
int mtc_write_devices(const struct mtc_config *c, FILE *f)
{
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<MTConnectDevices xmlns=\"urn:mtconnect.org:MTConnectDevices:2.0\">\n"
               "  <Header creationTime=\"2000-01-01T00:00:00Z\" sender=\"mtconnect-adapter\" "
               "instanceId=\"0\" bufferSize=\"131072\" version=\"2.0\" assetBufferSize=\"1024\" "
               "assetCount=\"0\"/>\n"
               "  <Devices>\n"
               "    <Device id=\"%s\" name=\"%s\" uuid=\"%s\">\n"
               "      <DataItems>\n"
               "        <DataItem category=\"EVENT\" id=\"%s\" type=\"AVAILABILITY\"/>\n",
            c->device, c->device, c->uuid, c->avail_key);
    for (unsigned i = 0; i < c->nitems; i++) {
        const struct mtc_item *it = &c->item[i];
        fprintf(f, "        <DataItem category=\"%s\" id=\"%s\" type=\"%s\"", category(it->kind),
                it->key, it->type);
        if (it->name[0])
            fprintf(f, " name=\"%s\"", it->name);
        if (it->subtype[0])
            fprintf(f, " subType=\"%s\"", it->subtype);
        if (it->units[0])
            fprintf(f, " units=\"%s\"", it->units);
        fprintf(f, "/>\n");
    }
    fprintf(f, "      </DataItems>\n    </Device>\n  </Devices>\n</MTConnectDevices>\n");
    return ferror(f) ? -EIO : 0;
}

int mtc_write_agent_cfg(const struct mtc_config *c, FILE *f)
{
    const char *colon = strrchr(c->listen, ':');
    char host[80];

    snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - c->listen) : 0, c->listen);
    fprintf(f, "# agent.cfg for mtconnect-adapter (cppagent); Devices.xml beside it\n"
               "Devices = Devices.xml\n"
               "Port = 5000\n"
               "Adapters {\n"
               "    %s {\n"
               "        Host = %s\n"
               "        Port = %s\n"
               "    }\n"
               "}\n",
            c->device, strcmp(host, "0.0.0.0") && host[0] ? host : "127.0.0.1",
            colon ? colon + 1 : "7878");
    return ferror(f) ? -EIO : 0;
}
