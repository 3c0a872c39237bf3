/*
 * web_http.c - request handlers (see halweb(1) for the API).
 *
 * Roles: anyone who can connect reads; writes need the operator token in
 * the X-HMK-Token header. A custom header cannot be sent cross-site without
 * a CORS preflight, which this server never grants, and the token is not a
 * cookie the browser would attach by itself: that is the CSRF protection;
 * the Origin check is the second line. Every refusal is a JSON error and
 * changes nothing.
 */
#include <civetweb.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "web_http.h"

#define BODY_MAX 4096
#define SNAP_MAX (4u << 20)
#define KEEPALIVE_S 5

static const char sec_headers[] =
    "Cache-Control: no-store\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Content-Security-Policy: default-src 'self'; frame-ancestors 'none'\r\n";

static int reply(struct mg_connection *c, int code, const char *type, const char *body,
                 size_t len)
{
    mg_printf(c,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
              "Connection: close\r\n\r\n",
              code, mg_get_response_code_text(c, code), type, len, sec_headers);
    mg_write(c, body, len);
    return code;
}

static int reply_error(struct mg_connection *c, int code, const char *msg)
{
    struct wj_buf b;

    wj_init(&b, 1024);
    wj_raw(&b, "{\"error\":");
    wj_str(&b, msg);
    wj_printf(&b, ",\"status\":%d}", code);
    reply(c, code, "application/json", b.p ? b.p : "{}", b.len);
    wj_free(&b);
    return code;
}

static bool is_get(struct mg_connection *c)
{
    const char *m = mg_get_request_info(c)->request_method;
    return !strcmp(m, "GET") || !strcmp(m, "HEAD");
}

static int h_asset(struct mg_connection *c, void *ud)
{
    const char *uri = mg_get_request_info(c)->local_uri;
    (void)ud;

    if (!is_get(c))
        return reply_error(c, 405, "method not allowed");
    for (const struct web_asset *a = web_assets; a->path; a++)
        if (!strcmp(uri, a->path) || (!strcmp(uri, "/") && !strcmp(a->path, "/index.html")))
            return reply(c, 200, a->type, (const char *)a->data, a->len);
    return reply_error(c, 404, "no such page");
}

/* GET /api/pins and /api/status: one consistent copy of the table. */
static int h_json(struct mg_connection *c, void *ud)
{
    struct web_http *h = ud;
    bool pins = !strcmp(mg_get_request_info(c)->local_uri, "/api/pins");
    struct wj_buf b;

    if (!is_get(c))
        return reply_error(c, 405, "method not allowed");
    wj_init(&b, SNAP_MAX);
    pthread_mutex_lock(&h->s->lock);
    if (pins)
        web_json_snapshot(h->s, &b);
    else
        web_json_status(h->s, &b);
    pthread_mutex_unlock(&h->s->lock);
    if (b.full)
        reply_error(c, 500, "out of memory");
    else
        reply(c, 200, "application/json", b.p, b.len);
    wj_free(&b);
    return 200;
}

static const char *client_name(struct mg_connection *c, char *buf, size_t n)
{
    const struct mg_request_info *ri = mg_get_request_info(c);
    snprintf(buf, n, "%s:%d", ri->remote_addr, ri->remote_port);
    return buf;
}

struct sse_client {
    uint64_t layout, ver, status_ver;
};

/* The next frame for one client, from what changed since it was last
 * served; empty if nothing did. Caller holds the lock. */
static void sse_frame(struct web_state *s, struct sse_client *k, struct wj_buf *b)
{
    wj_reset(b);
    if (k->layout != s->layout) {
        wj_raw(b, "event: snapshot\ndata: ");
        web_json_snapshot(s, b);
        wj_raw(b, "\n\n");
        k->layout = s->layout;
        k->ver = s->ver;
        k->status_ver = s->status_ver;
        return;
    }
    if (s->ver > k->ver) {
        wj_raw(b, "event: delta\ndata: ");
        web_json_delta(s, b, k->ver);
        wj_raw(b, "\n\n");
        k->ver = s->ver;
    }
    if (s->status_ver != k->status_ver) {
        wj_raw(b, "event: status\ndata: ");
        web_json_status(s, b);
        wj_raw(b, "\n\n");
        k->status_ver = s->status_ver;
    }
}

static bool sse_pending(const struct web_state *s, const struct sse_client *k)
{
    return s->stop || k->layout != s->layout || s->ver > k->ver ||
           s->status_ver != k->status_ver;
}

static void ts_add_ms(struct timespec *t, long ms)
{
    t->tv_sec += ms / 1000;
    t->tv_nsec += (ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

/* Waits for a change (or the keepalive time), builds the frame. */
static void sse_next(struct web_http *h, struct sse_client *k, struct wj_buf *b)
{
    struct web_state *s = h->s;
    struct timespec until;
    int ret = 0;

    clock_gettime(CLOCK_MONOTONIC, &until);
    ts_add_ms(&until, KEEPALIVE_S * 1000L);
    pthread_mutex_lock(&s->lock);
    while (!sse_pending(s, k) && ret != ETIMEDOUT)
        ret = pthread_cond_timedwait(&s->cond, &s->lock, &until);
    if (s->stop)
        wj_reset(b);
    else
        sse_frame(s, k, b);
    pthread_mutex_unlock(&s->lock);
    if (!s->stop && b->len == 0 && !b->full)
        wj_raw(b, ": keepalive\n\n");
}

/* One live stream: a snapshot, then deltas at most fps times a second.
 * The frame always holds the latest value of what changed, so however
 * slow this client is, it holds no backlog; if its socket stays full for
 * the send timeout it is dropped, and only its own thread waited. */
static void sse_loop(struct mg_connection *c, struct web_http *h)
{
    struct sse_client k = { 0 };
    struct timespec next;
    struct wj_buf b;
    char who[80];

    wj_init(&b, SNAP_MAX);
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!h->s->stop) {
        sse_next(h, &k, &b);
        if (b.full) {
            fprintf(stderr, "web: client %s: frame too large, closed\n",
                    client_name(c, who, sizeof(who)));
            break;
        }
        if (b.len && mg_write(c, b.p, b.len) != (int)b.len) {
            pthread_mutex_lock(&h->s->lock);
            h->s->dropped++;
            h->s->status_ver++;
            pthread_cond_broadcast(&h->s->cond);
            pthread_mutex_unlock(&h->s->lock);
            fprintf(stderr, "web: client %s: gone or too slow (a %zu-byte frame not taken), dropped\n",
                    client_name(c, who, sizeof(who)), b.len);
            break;
        }
        /* throttle: latest value wins, the rest waits in the table */
        ts_add_ms(&next, 1000L / (long)h->fps);
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        clock_gettime(CLOCK_MONOTONIC, &next);
    }
    wj_free(&b);
}

static int h_events(struct mg_connection *c, void *ud)
{
    struct web_http *h = ud;
    bool full;

    if (!is_get(c))
        return reply_error(c, 405, "method not allowed");
    if (!web_origin_ok(mg_get_header(c, "Origin"), mg_get_header(c, "Host")))
        return reply_error(c, 403, "cross-origin request refused");
    pthread_mutex_lock(&h->s->lock);
    full = h->s->clients >= h->max_clients;
    if (!full) {
        h->s->clients++;
        h->s->status_ver++;
    }
    pthread_mutex_unlock(&h->s->lock);
    if (full)
        return reply_error(c, 503, "too many live clients; try again later");
    mg_printf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n%s"
                 "Connection: close\r\n\r\nretry: 1000\n\n", sec_headers);
    sse_loop(c, h);
    pthread_mutex_lock(&h->s->lock);
    h->s->clients--;
    h->s->status_ver++;
    pthread_cond_broadcast(&h->s->cond);
    pthread_mutex_unlock(&h->s->lock);
    return 200;
}

/* Who may write: the checks before the body is even read. 0 or the
 * HTTP code of the refusal (already answered). */
static int write_allowed(struct mg_connection *c, struct web_http *h)
{
    const struct mg_request_info *ri = mg_get_request_info(c);
    const char *tok = mg_get_header(c, "X-HMK-Token");
    const char *ct = mg_get_header(c, "Content-Type");

    if (strcmp(ri->request_method, "POST") != 0)
        return reply_error(c, 405, "method not allowed (POST)");
    if (!web_origin_ok(mg_get_header(c, "Origin"), mg_get_header(c, "Host")))
        return reply_error(c, 403, "cross-origin request refused");
    if (!h->token[0])
        return reply_error(c, 403, "writes are off: this service has no operator token file");
    if (!tok)
        return reply_error(c, 401, "read-only role: writing needs the operator token");
    if (!web_token_eq(tok, h->token))
        return reply_error(c, 403, "wrong operator token");
    if (!ct || strncmp(ct, "application/json", 16) != 0)
        return reply_error(c, 415, "Content-Type must be application/json");
    if (ri->content_length < 0)
        return reply_error(c, 411, "Content-Length required");
    if (ri->content_length > BODY_MAX)
        return reply_error(c, 413, "request body too large (at most 4096 bytes)");
    return 0;
}

static int read_body(struct mg_connection *c, char *buf, size_t len)
{
    size_t got = 0;
    int n;

    while (got < len && (n = mg_read(c, buf + got, len - got)) > 0)
        got += (size_t)n;
    return got == len ? 0 : -EIO;
}

/* The write itself, under the table lock (the watcher may replace the
 * handle otherwise). Returns an HTTP code; msg says why on refusal. */
static int do_write(struct web_state *s, const struct web_write_req *rq, bool pulse,
                    hmk_value *v, char *msg, size_t n)
{
    struct hmk_pin_info info;
    int idx, ret;

    if (!s->r) {
        snprintf(msg, n, "region not attached (is LinuxCNC running?)");
        return 503;
    }
    idx = hmk_pin_find(s->r, rq->pin);
    if (idx < 0 || hmk_pin_info(s->r, (unsigned)idx, &info) < 0) {
        snprintf(msg, n, "unknown pin '%s'", rq->pin);
        return 404;
    }
    if (hmk_value_parse(info.type, rq->text, v) < 0) {
        snprintf(msg, n, "pin '%s': '%s' is not a %s value", rq->pin, rq->text,
                 hmk_type_name(info.type));
        return 400;
    }
    ret = pulse ? hmk_pulse(s->r, (unsigned)idx, v) : hmk_write(s->r, (unsigned)idx, v);
    if (ret == -EPERM || ret == -EROFS) {
        snprintf(msg, n, "pin '%s' is not writable by this service (%s)", rq->pin,
                 info.dir == HMK_DIR_IN ? "HAL feeds it" : "not in its writes = grant");
        return 403;
    }
    if (ret < 0) {
        snprintf(msg, n, "pin '%s': %s", rq->pin, hmk_strerror(ret));
        return ret == -EINVAL ? 400 : 503;
    }
    return 200;
}

static int h_write(struct mg_connection *c, void *ud)
{
    struct web_http *h = ud;
    bool pulse = !strcmp(mg_get_request_info(c)->local_uri, "/api/pulse");
    char body[BODY_MAX + 1], msg[192], who[80];
    struct web_write_req rq;
    const char *why;
    struct wj_buf b;
    hmk_value v;
    size_t len;
    int code = write_allowed(c, h);

    if (code)
        return code;
    len = (size_t)mg_get_request_info(c)->content_length;
    if (read_body(c, body, len) < 0)
        return reply_error(c, 400, "request body cut short");
    if (web_parse_write(body, len, &rq, &why) < 0)
        return reply_error(c, 400, why);
    pthread_mutex_lock(&h->s->lock);
    code = do_write(h->s, &rq, pulse, &v, msg, sizeof(msg));
    pthread_mutex_unlock(&h->s->lock);
    if (code != 200)
        return reply_error(c, code, msg);
    fprintf(stderr, "web: %s %s = %s (operator at %s)\n", pulse ? "pulse" : "write", rq.pin,
            rq.text, client_name(c, who, sizeof(who)));
    wj_init(&b, 1024);
    wj_raw(&b, "{\"ok\":true,\"pin\":");
    wj_str(&b, rq.pin);
    wj_raw(&b, ",\"value\":");
    wj_value(&b, &v);
    wj_printf(&b, ",\"pulse\":%s}", pulse ? "true" : "false");
    reply(c, 200, "application/json", b.p, b.len);
    wj_free(&b);
    return 200;
}

void web_http_register(struct mg_context *ctx, struct web_http *h)
{
    mg_set_request_handler(ctx, "/$", h_asset, h);
    for (const struct web_asset *a = web_assets; a->path; a++)
        mg_set_request_handler(ctx, a->path, h_asset, h);
    mg_set_request_handler(ctx, "/api/pins$", h_json, h);
    mg_set_request_handler(ctx, "/api/status$", h_json, h);
    mg_set_request_handler(ctx, "/api/events$", h_events, h);
    mg_set_request_handler(ctx, "/api/write$", h_write, h);
    mg_set_request_handler(ctx, "/api/pulse$", h_write, h);
}
