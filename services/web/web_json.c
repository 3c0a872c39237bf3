/*
 * web_json.c - see web_json.h.
 */
#include "web_json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wj_init(struct wj_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void wj_free(struct wj_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

void wj_reset(struct wj_buf *b)
{
    b->len = 0;
    b->full = false;
    if (b->p)
        b->p[0] = '\0';
}

/* Room for n more bytes and a NUL; false (and `full`) past the cap. */
static bool wj_room(struct wj_buf *b, size_t n)
{
    size_t want = b->len + n + 1, cap;
    char *p;

    if (b->full)
        return false;
    if (want <= b->cap)
        return true;
    if (want > b->max) {
        b->full = true;
        return false;
    }
    cap = b->cap ? b->cap : 1024;
    while (cap < want)
        cap *= 2;
    if (cap > b->max)
        cap = b->max;
    p = realloc(b->p, cap);
    if (!p) {
        b->full = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static void wj_mem(struct wj_buf *b, const char *s, size_t n)
{
    if (!wj_room(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void wj_raw(struct wj_buf *b, const char *s)
{
    wj_mem(b, s, strlen(s));
}

void wj_printf(struct wj_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        b->full = true; /* callers print short fields only */
        return;
    }
    wj_mem(b, tmp, (size_t)n);
}

void wj_str(struct wj_buf *b, const char *s)
{
    char esc[8];

    wj_mem(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            wj_mem(b, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            wj_mem(b, esc, 6);
        } else {
            wj_mem(b, (const char *)&c, 1);
        }
    }
    wj_mem(b, "\"", 1);
}

void wj_value(struct wj_buf *b, const hmk_value *v)
{
    char text[64];

    if (v->type == HMK_TYPE_FLOAT && !isfinite(v->f)) {
        wj_raw(b, isnan(v->f) ? "\"nan\"" : v->f > 0 ? "\"inf\"" : "\"-inf\"");
        return;
    }
    if (hmk_value_format(v, text, sizeof(text)) < 0) {
        wj_raw(b, "null");
        return;
    }
    if (v->type == HMK_TYPE_BIT)
        wj_raw(b, v->b ? "true" : "false");
    else
        wj_raw(b, text);
}

/* Copies the next tab-separated field into dst (size n); false if the
 * field is missing or too long. */
static bool svc_field(const char **p, char *dst, size_t n, bool last)
{
    const char *end = strchr(*p, '\t');
    size_t len;

    if (!end && !last)
        return false;
    if (end && last)
        return false;
    len = end ? (size_t)(end - *p) : strlen(*p);
    if (len == 0 || len >= n)
        return false;
    memcpy(dst, *p, len);
    dst[len] = '\0';
    *p += len + (end ? 1 : 0);
    return true;
}

static bool svc_number(const char *text, unsigned long long *out)
{
    char *end;

    if (*text < '0' || *text > '9')
        return false;
    errno = 0;
    *out = strtoull(text, &end, 10);
    return !*end && !errno;
}

int web_parse_service(const char *line, struct web_svc *out)
{
    char pid[24], up[24], rs[24];
    unsigned long long n;
    const char *p = line;

    memset(out, 0, sizeof(*out));
    if (strncmp(p, "service\t", 8) != 0)
        return -EINVAL;
    p += 8;
    if (!svc_field(&p, out->name, sizeof(out->name), false) ||
        !svc_field(&p, out->state, sizeof(out->state), false) ||
        !svc_field(&p, pid, sizeof(pid), false) || !svc_field(&p, up, sizeof(up), false) ||
        !svc_field(&p, rs, sizeof(rs), false) ||
        !svc_field(&p, out->last_exit, sizeof(out->last_exit), true))
        return -EINVAL;
    if (!svc_number(pid, &n) || n > 0xffffffffull)
        return -EINVAL;
    out->pid = (unsigned long)n;
    if (!svc_number(up, &out->uptime_ms) || !svc_number(rs, &n) || n > 0xffffffffull)
        return -EINVAL;
    out->restarts = (unsigned long)n;
    return 0;
}

/* The request's value as the text hmk_value_parse reads. */
static int write_value_text(const cJSON *v, char *text, size_t n, const char **why)
{
    int len;

    if (cJSON_IsBool(v)) {
        len = snprintf(text, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        /* integral numbers as integers, so an s32 pin takes 1e3 as 1000 */
        if (d == (double)(long long)d && d > -1e18 && d < 1e18)
            len = snprintf(text, n, "%lld", (long long)d);
        else
            len = snprintf(text, n, "%.17g", d);
    } else if (cJSON_IsString(v)) {
        len = snprintf(text, n, "%s", v->valuestring);
    } else {
        *why = "\"value\" must be a boolean, a number or a string";
        return -EINVAL;
    }
    if (len < 0 || (size_t)len >= n || len == 0) {
        *why = "\"value\" is empty or too long";
        return -EINVAL;
    }
    return 0;
}

int web_parse_write(const char *body, size_t len, struct web_write_req *out, const char **why)
{
    cJSON *root = cJSON_ParseWithLength(body, len), *pin, *val, *it;
    int ret = -EINVAL;

    memset(out, 0, sizeof(*out));
    *why = "malformed JSON";
    if (!root)
        return -EINVAL;
    if (!cJSON_IsObject(root)) {
        *why = "the request must be a JSON object";
        goto out;
    }
    cJSON_ArrayForEach(it, root) {
        if (!it->string || (strcmp(it->string, "pin") && strcmp(it->string, "value"))) {
            *why = "unknown member (only \"pin\" and \"value\")";
            goto out;
        }
    }
    pin = cJSON_GetObjectItemCaseSensitive(root, "pin");
    val = cJSON_GetObjectItemCaseSensitive(root, "value");
    if (!cJSON_IsString(pin) || !pin->valuestring[0] ||
        strlen(pin->valuestring) >= sizeof(out->pin)) {
        *why = "\"pin\" must be a pin name";
        goto out;
    }
    if (!val) {
        *why = "\"value\" is missing";
        goto out;
    }
    snprintf(out->pin, sizeof(out->pin), "%s", pin->valuestring);
    ret = write_value_text(val, out->text, sizeof(out->text), why);
out:
    cJSON_Delete(root);
    return ret;
}

bool web_hal_connected(bool attached, const struct hmk_stats *st, uint64_t now_ns)
{
    uint64_t age;

    if (!attached || !st || st->heartbeat_ns == 0 || st->heartbeat_timeout_ms == 0)
        return false;
    /* a heartbeat stamped just after now_ns was read is fresh, not ancient */
    age = now_ns > st->heartbeat_ns ? now_ns - st->heartbeat_ns : 0;
    return age < (uint64_t)st->heartbeat_timeout_ms * 1000000u;
}

bool web_token_eq(const char *given, const char *want)
{
    size_t gl = strlen(given), wl = strlen(want);
    unsigned char d = gl != wl;

    for (size_t i = 0; i < wl; i++)
        d |= (unsigned char)(want[i] ^ (i < gl ? given[i] : 0));
    return d == 0;
}

bool web_origin_ok(const char *origin, const char *host)
{
    if (!origin)
        return true;
    if (!host || strncmp(origin, "http://", 7) != 0)
        return false;
    return strcmp(origin + 7, host) == 0;
}
