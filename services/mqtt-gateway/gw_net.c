/*
 * gw_net.c - mqtt-gateway's network thread: one poll loop around the
 * broker's socket, the HAL thread's wake-up eventfd and a few timers
 * (reconnect backoff, HAL liveness, minimum interval, full refresh,
 * BASE/state and BASE/stats intervals, the offline deadline at a stop).
 * libmosquitto is driven by hand (mosquitto_loop_read/write/misc) so that
 * every broker call happens in this thread and the loop owns all timing.
 *
 * Back-pressure: values are state, not events. A pin's table entry holds
 * its latest value and a dirty flag; this thread publishes dirty pins while
 * fewer than inflight_max messages are unacknowledged (QoS 0: unwritten).
 * A slow or absent broker therefore costs memory for one value per pin,
 * never a backlog, and the HAL thread never waits for it.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "gw.h"
#include "gw_json.h"
#include "gw_topic.h"
#include "hmk_ctl_client.h"

#define NET_HAL_CHECK_MS 200      /* how often liveness is judged */
#define NET_CONNECT_TIMEOUT_MS 10000
#define NET_OFFLINE_DEADLINE_MS 2000
#define NET_STATS_TIMEOUT_MS 300  /* the most one stats question may take */

enum net_state { NET_DOWN, NET_CONNECTING, NET_UP };

struct net {
    struct gw *gw;
    struct mosquitto *mosq;
    enum net_state state;
    bool started;            /* host and port handed to libmosquitto */
    bool down_logged;        /* one line per outage, not one per retry */
    int backoff_ms, inflight, offline_mid;
    bool offline_queued, offline_done;
    int64_t retry_at, connecting_since, hal_check_at, refresh_at, due_at, stop_at;
    hmk_region *r;           /* writes, liveness, out pins' values */
    bool hal_ok;
    const char *status;      /* last status published on this connection */
    bool ha_due;             /* discovery configs to (re)publish */
    bool ha_removed;         /* --ha-remove done at shutdown */
    bool state_force;        /* BASE/state now, whatever the interval */
    int64_t state_at;        /* when BASE/state was last published */
    struct gw_buf buf;       /* discovery and state text */
    int64_t stats_at;        /* when the daemon is asked for stats next */
    char *stats;             /* BASE/stats as last published on this connection */
    int stats_err;           /* the last failure said (one line per outage) */
};

static void net_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void net_log(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("mqtt-gateway: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- HAL side ----------------------------------------------------------- */

/* Pin indices and types in the region just opened (a LinuxCNC restart may
 * lay it out anew), and the out-only pins' values, which no stream carries. */
static void net_reindex(struct net *n)
{
    struct gw *gw = n->gw;
    struct hmk_pin_info info;
    hmk_value v;

    for (unsigned k = 0; k < gw->npins; k++) {
        struct gw_pin *p = &gw->pins[k];
        int i = hmk_pin_find(n->r, p->name);
        bool have = i >= 0 && hmk_pin_info(n->r, (unsigned)i, &info) == 0;
        bool out = have && info.dir == HMK_DIR_OUT && hmk_read_out(n->r, (unsigned)i, &v) == 0;

        pthread_mutex_lock(&gw->lock);
        if (have) {
            p->index = info.index;
            p->type = info.type;
        }
        if (out) {
            p->value = v;
            p->have = p->dirty = gw->state_dirty = true;
        }
        pthread_mutex_unlock(&gw->lock);
    }
}

/* Is HAL there to talk to: the bridge's region attached and the daemon's
 * heartbeat fresh (what drives microkernel.connected). The one place that
 * judges it: when the bridge publishes a connected flag (issue 11), only
 * this function changes. Opens the region again after a detach. */
static bool gw_hal_connected(struct net *n)
{
    struct gw *gw = n->gw;
    struct hmk_stats st;
    struct timespec now;
    bool any_set = false;
    uint64_t now_ns;

    if (n->r && hmk_check(n->r) == -ESTALE) {
        /* LinuxCNC restarted since the last look: say so for one check
         * even if the new region is already up, so every restart shows */
        hmk_close(n->r);
        n->r = NULL;
        return false;
    }
    for (unsigned k = 0; k < gw->npins; k++)
        any_set |= gw->pins[k].settable;
    if (!n->r) {
        if (hmk_open(gw->o.region, any_set ? 0 : HMK_OPEN_RDONLY, &n->r) < 0) {
            n->r = NULL;
            return false;
        }
        net_reindex(n);
    }
    if (hmk_stats(n->r, &st) < 0 || st.heartbeat_ns == 0)
        return false;
    clock_gettime(CLOCK_MONOTONIC, &now);
    now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    return now_ns - st.heartbeat_ns <= (uint64_t)st.heartbeat_timeout_ms * 1000000u;
}

/* ---- publishing ---------------------------------------------------------- */

static int net_publish(struct net *n, const char *topic, const char *payload, bool retain, int *mid)
{
    int rc = mosquitto_publish(n->mosq, mid, topic, (int)strlen(payload), payload, n->gw->o.qos,
                               retain);

    if (rc == MOSQ_ERR_SUCCESS)
        n->inflight++;
    return rc;
}

static void net_error_reply(struct net *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void net_error_reply(struct net *n, const char *fmt, ...)
{
    char topic[300], msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (gw_topic(topic, sizeof(topic), n->gw->base, "error") >= 0)
        net_publish(n, topic, msg, false, NULL);
}

static void net_status(struct net *n)
{
    const char *want = n->hal_ok ? "online" : "hal-down";
    char topic[300];

    if (n->status == want || gw_topic(topic, sizeof(topic), n->gw->base, "status") < 0)
        return;
    if (net_publish(n, topic, want, true, NULL) == MOSQ_ERR_SUCCESS) {
        if (n->status || !n->hal_ok)
            net_log("status %s", want);
        n->status = want;
    }
}

/* One pin, if it is dirty and due: copies the value out under the lock and
 * publishes outside it. Returns false when the in-flight window is full. */
static bool net_flush_pin(struct net *n, struct gw_pin *p, int64_t now)
{
    struct gw *gw = n->gw;
    char topic[300], text[64];
    hmk_value v;
    bool force, bounce;
    int64_t due = p->pub_ms + gw->o.min_interval_ms;

    pthread_mutex_lock(&gw->lock);
    if (!p->dirty || !p->have) {
        pthread_mutex_unlock(&gw->lock);
        return true;
    }
    force = p->force || !p->ever;
    if (!force && gw->o.min_interval_ms && now < due) {
        pthread_mutex_unlock(&gw->lock);
        if (!n->due_at || due < n->due_at)
            n->due_at = due;
        return true;
    }
    v = p->value;
    bounce = p->bounce && v.type == HMK_TYPE_BIT;
    p->dirty = p->force = p->bounce = false;
    pthread_mutex_unlock(&gw->lock);
    if (!force && !bounce && !gw_worth_publishing(&p->published, &v, gw->o.deadband))
        return true;
    if (gw_topic_pin(topic, sizeof(topic), gw->base, p->name, NULL) < 0)
        return true;
    /* a pulse that came and went: both edges, so no subscriber misses it */
    if (bounce) {
        hmk_value other = { .type = HMK_TYPE_BIT, .b = !v.b };
        if (hmk_value_format(&other, text, sizeof(text)) > 0)
            net_publish(n, topic, text, true, NULL);
    }
    if (hmk_value_format(&v, text, sizeof(text)) < 0 ||
        net_publish(n, topic, text, true, NULL) != MOSQ_ERR_SUCCESS) {
        pthread_mutex_lock(&gw->lock);
        p->dirty = true; /* connection going away: published again on reconnect */
        pthread_mutex_unlock(&gw->lock);
        return false;
    }
    p->published = v;
    p->ever = true;
    p->pub_ms = now;
    return n->inflight < gw->o.inflight_max;
}

static void net_flush(struct net *n, int64_t now)
{
    n->due_at = 0;
    for (unsigned k = 0; k < n->gw->npins && n->inflight < n->gw->o.inflight_max; k++)
        if (!net_flush_pin(n, &n->gw->pins[k], now))
            break;
}

/* Every known value goes out again: after a (re)connect, and on --refresh. */
static void net_mark_all(struct net *n, bool reconnect)
{
    struct gw *gw = n->gw;

    pthread_mutex_lock(&gw->lock);
    for (unsigned k = 0; k < gw->npins; k++) {
        gw->pins[k].dirty = gw->pins[k].force = gw->pins[k].have;
        if (reconnect)
            gw->pins[k].ever = false;
    }
    pthread_mutex_unlock(&gw->lock);
}

/* ---- Home Assistant discovery and the bulk state ------------------------- */

/* Every pin's discovery config, retained, so HA finds the entities
 * whenever it starts; empty payloads (remove) remove them. Bounded by the
 * pin count, so it goes out in one go regardless of the in-flight window. */
static void net_ha_publish(struct net *n, bool remove)
{
    struct gw *gw = n->gw;
    char topic[512];

    for (unsigned k = 0; k < gw->npins; k++) {
        if (gw_ha_topic(topic, sizeof(topic), gw, &gw->pins[k]) < 0 ||
            (!remove && gw_ha_config(&n->buf, gw, &gw->pins[k]) < 0))
            continue; /* gw_ha_check refused such names at start */
        if (mosquitto_publish(n->mosq, NULL, topic, remove ? 0 : (int)n->buf.len,
                              remove ? NULL : n->buf.p, gw->o.qos, true) == MOSQ_ERR_SUCCESS)
            n->inflight++;
    }
}

static bool net_ha_status(const struct net *n, const struct mosquitto_message *m)
{
    char topic[300];

    return n->gw->o.ha_prefix && gw_topic(topic, sizeof(topic), n->gw->o.ha_prefix, "status") >= 0 &&
           !strcmp(m->topic, topic);
}

/* BASE/state: latest wins. A change marks it dirty; it goes out when the
 * interval since the last one has passed (a timer otherwise), so a flood
 * of changes costs one message per interval, never a queue. A full
 * refresh (connect, --refresh) sends it at once. */
static void net_state(struct net *n, int64_t now)
{
    struct gw *gw = n->gw;
    int64_t due = n->state_at + gw->o.state_interval_ms;
    struct hmk_stats st = { 0 };
    char topic[300];
    bool dirty;

    if (!gw->o.state_interval_ms)
        return;
    pthread_mutex_lock(&gw->lock);
    dirty = gw->state_dirty;
    pthread_mutex_unlock(&gw->lock);
    if (!n->state_force && (!dirty || n->inflight >= gw->o.inflight_max))
        return;
    if (!n->state_force && now < due) {
        if (!n->due_at || due < n->due_at)
            n->due_at = due;
        return;
    }
    if (n->r)
        hmk_stats(n->r, &st);
    if (gw_state_json(&n->buf, gw, st.cycle) < 0 || gw_topic(topic, sizeof(topic), gw->base, "state") < 0 ||
        net_publish(n, topic, n->buf.p, true, NULL) != MOSQ_ERR_SUCCESS)
        return;
    n->state_force = false;
    n->state_at = now;
}

/* BASE/stats: the daemon's reaction-time numbers of every service (as
 * `hal-microkernelctl --json stats` without the histograms), asked every
 * --stats-interval and published, retained, when they differ from what this
 * connection last published. The question may hold this thread up to
 * NET_STATS_TIMEOUT_MS when the daemon is wedged; a daemon that is not
 * there costs one failed connect. */
static void net_stats(struct net *n, int64_t now)
{
    struct gw *gw = n->gw;
    struct hmk_ctl_stats *st = NULL;
    char topic[300], obj[HMK_CTL_STATS_JSON_MAX];
    size_t count = 0;
    int ret;

    if (!gw->o.stats_interval_ms || now < n->stats_at || n->inflight >= gw->o.inflight_max)
        goto due;
    n->stats_at = now + gw->o.stats_interval_ms;
    ret = hmk_ctl_get_stats(gw->o.control, NET_STATS_TIMEOUT_MS, &st, &count);
    if (ret < 0) {
        if (ret != n->stats_err)
            net_log("stats: no answer from the daemon at '%s': %s", gw->o.control, strerror(-ret));
        n->stats_err = ret;
        goto due;
    }
    if (n->stats_err)
        net_log("stats: the daemon at '%s' answers again", gw->o.control);
    n->stats_err = 0;
    gw_buf_reset(&n->buf);
    gw_buf_raw(&n->buf, "{\"services\":[");
    for (size_t i = 0; i < count; i++) {
        if (i)
            gw_buf_raw(&n->buf, ",");
        if (hmk_ctl_stats_json(&st[i], 0, obj, sizeof(obj)) > 0)
            gw_buf_raw(&n->buf, obj);
    }
    gw_buf_raw(&n->buf, "]}");
    free(st);
    if (n->buf.err || (n->stats && !strcmp(n->stats, n->buf.p)) ||
        gw_topic(topic, sizeof(topic), gw->base, "stats") < 0 ||
        net_publish(n, topic, n->buf.p, true, NULL) != MOSQ_ERR_SUCCESS)
        goto due;
    free(n->stats);
    n->stats = strdup(n->buf.p);
due:
    if (gw->o.stats_interval_ms && (!n->due_at || n->stats_at < n->due_at))
        n->due_at = n->stats_at > now ? n->stats_at : now + 1;
}

/* ---- commands ------------------------------------------------------------ */

static struct gw_pin *net_find(struct gw *gw, const char *name)
{
    for (unsigned k = 0; k < gw->npins; k++)
        if (!strcmp(gw->pins[k].name, name))
            return &gw->pins[k];
    return NULL;
}

/* Applies a command completely or not at all: every check comes before the
 * one write, and a refusal is answered on BASE/error naming the topic and
 * payload. */
static void net_command(struct net *n, const struct mosquitto_message *m)
{
    struct gw *gw = n->gw;
    char name[128], quoted[96];
    const char *what = m->topic + strlen(gw->base) + 1;
    enum gw_cmd cmd;
    struct gw_pin *p;
    hmk_value v;
    int ret;

    gw_quote(quoted, sizeof(quoted), m->payload, m->payloadlen < 0 ? 0 : (size_t)m->payloadlen);
    if (gw_topic_command(m->topic, gw->base, name, sizeof(name), &cmd) < 0)
        return; /* not ours: the subscription cannot deliver such a topic */
    if (m->retain)
        return net_error_reply(n, "%s '%s': retained command refused (it would be applied "
                                  "again at every reconnect)", what, quoted);
    if (!(p = net_find(gw, name)))
        return net_error_reply(n, "%s '%s': no such pin", what, quoted);
    if (!p->settable)
        return net_error_reply(n, "%s '%s': pin %s is not settable (see --set)", what, quoted,
                               name);
    ret = gw_payload_parse(p->type, m->payload, (size_t)m->payloadlen, &v);
    if (ret < 0)
        return net_error_reply(n, "%s '%s': %s", what, quoted,
                               ret == -ERANGE    ? "out of range for the pin's type"
                               : ret == -EMSGSIZE ? "empty or too long"
                                                  : hmk_type_name(p->type));
    if (!n->hal_ok || !n->r)
        return net_error_reply(n, "%s '%s': HAL is down, nothing written", what, quoted);
    ret = cmd == GW_CMD_SET ? hmk_write(n->r, p->index, &v) : hmk_pulse(n->r, p->index, &v);
    if (ret < 0)
        return net_error_reply(n, "%s '%s': %s", what, quoted, hmk_strerror(ret));
    if (cmd == GW_CMD_SET && p->dir == HMK_DIR_OUT) {
        /* no stream reports out values: publish the new one from here */
        pthread_mutex_lock(&gw->lock);
        p->value = v;
        p->have = p->dirty = gw->state_dirty = true;
        pthread_mutex_unlock(&gw->lock);
    }
}

/* ---- connection ----------------------------------------------------------- */

static void net_retry_later(struct net *n, int64_t now, const char *why)
{
    struct gw_opts *o = &n->gw->o;

    n->state = NET_DOWN;
    n->status = NULL;
    n->backoff_ms = gw_backoff_next(n->backoff_ms, o->backoff_min_ms, o->backoff_max_ms);
    n->retry_at = now + n->backoff_ms;
    if (!n->down_logged)
        net_log("broker %s:%d: %s; retrying, values coalesce to the latest per pin meanwhile",
                o->host, o->port, why);
    n->down_logged = true;
}

static void net_on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    struct net *n = obj;
    char sub[3][300];
    char *subs[3] = { sub[0], sub[1], sub[2] };

    if (rc != 0) {
        net_retry_later(n, gw_now_ms(), mosquitto_connack_string(rc));
        mosquitto_disconnect(mosq);
        return;
    }
    net_log("connected to %s:%d as %s/", n->gw->o.host, n->gw->o.port, n->gw->base);
    n->state = NET_UP;
    n->backoff_ms = 0;
    n->down_logged = false;
    n->inflight = 0;
    n->status = NULL;
    gw_topic(sub[0], sizeof(sub[0]), n->gw->base, "pin/+/set");
    gw_topic(sub[1], sizeof(sub[1]), n->gw->base, "pin/+/pulse");
    /* HA says "online" here when it (re)starts: our configs go out again */
    if (n->gw->o.ha_prefix)
        gw_topic(sub[2], sizeof(sub[2]), n->gw->o.ha_prefix, "status");
    mosquitto_subscribe_multiple(mosq, NULL, n->gw->o.ha_prefix ? 3 : 2, subs, n->gw->o.qos, 0, NULL);
    net_mark_all(n, true);
    n->ha_due = n->gw->o.ha_prefix != NULL;
    n->state_force = true;
    free(n->stats); /* a new connection: BASE/stats goes out again */
    n->stats = NULL;
    n->stats_at = 0;
}

static void net_on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    struct net *n = obj;

    (void)mosq;
    if (atomic_load(&n->gw->stop))
        n->state = NET_DOWN; /* our own DISCONNECT: nothing to retry */
    else if (n->state != NET_DOWN)
        net_retry_later(n, gw_now_ms(), rc ? "connection lost" : "disconnected");
}

static void net_on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    struct net *n = obj;

    (void)mosq;
    if (n->inflight > 0)
        n->inflight--;
    if (n->offline_queued && mid == n->offline_mid)
        n->offline_done = true;
}

static void net_on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m)
{
    struct net *n = obj;

    (void)mosq;
    if (net_ha_status(n, m)) {
        n->ha_due |= m->payloadlen == 6 && !memcmp(m->payload, "online", 6);
        return;
    }
    net_command(n, m);
}

static void net_connect(struct net *n, int64_t now)
{
    struct gw_opts *o = &n->gw->o;
    int rc = n->started ? mosquitto_reconnect_async(n->mosq)
                        : mosquitto_connect_async(n->mosq, o->host, o->port, o->keepalive);

    n->started = true;
    if (rc == MOSQ_ERR_SUCCESS) {
        n->state = NET_CONNECTING;
        n->connecting_since = now;
    } else {
        net_retry_later(n, now, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    }
}

static struct mosquitto *net_new(struct net *n)
{
    struct gw_opts *o = &n->gw->o;
    char id[300], will[300];
    struct mosquitto *m;

    snprintf(id, sizeof(id), "%s%s", o->client_id ? "" : "mqtt-gateway-",
             o->client_id ? o->client_id : o->machine);
    m = mosquitto_new(id, true, n);
    if (!m)
        return NULL;
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, o->mqtt_version);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    gw_topic(will, sizeof(will), n->gw->base, "status");
    if (mosquitto_will_set(m, will, 7, "offline", o->qos, true) != MOSQ_ERR_SUCCESS ||
        (o->user && mosquitto_username_pw_set(m, o->user, o->password) != MOSQ_ERR_SUCCESS) ||
        (o->cafile && mosquitto_tls_set(m, o->cafile, NULL, o->certfile, o->keyfile, NULL) !=
                          MOSQ_ERR_SUCCESS)) {
        mosquitto_destroy(m);
        return NULL;
    }
    mosquitto_connect_callback_set(m, net_on_connect);
    mosquitto_disconnect_callback_set(m, net_on_disconnect);
    mosquitto_publish_callback_set(m, net_on_publish);
    mosquitto_message_callback_set(m, net_on_message);
    return m;
}

/* ---- the loop -------------------------------------------------------------- */

/* Clean shutdown: "offline" (retained) acknowledged, then DISCONNECT, so
 * subscribers see offline at once instead of after the keepalive. */
static bool net_shutdown_step(struct net *n, int64_t now)
{
    char topic[300];

    if (!n->stop_at)
        n->stop_at = now + NET_OFFLINE_DEADLINE_MS;
    if (n->state != NET_UP || now >= n->stop_at)
        return true;
    if (n->gw->o.ha_remove && !n->ha_removed) {
        net_ha_publish(n, true); /* before offline: its ack then covers these */
        n->ha_removed = true;
    }
    if (!n->offline_queued) {
        gw_topic(topic, sizeof(topic), n->gw->base, "status");
        n->offline_queued =
            net_publish(n, topic, "offline", true, &n->offline_mid) == MOSQ_ERR_SUCCESS;
        return !n->offline_queued;
    }
    if (n->offline_done) {
        mosquitto_disconnect(n->mosq);
        mosquitto_loop_write(n->mosq, 1);
        return true;
    }
    return false;
}

/* Timers and connection state, before the wait. Returns false to end. */
static bool net_step(struct net *n, int64_t now)
{
    struct gw *gw = n->gw;

    if (now >= n->hal_check_at) {
        n->hal_ok = gw_hal_connected(n);
        n->hal_check_at = now + NET_HAL_CHECK_MS;
    }
    if (atomic_load(&gw->stop))
        return !net_shutdown_step(n, now);
    if (n->state == NET_DOWN && now >= n->retry_at)
        net_connect(n, now);
    else if (n->state == NET_CONNECTING && now - n->connecting_since > NET_CONNECT_TIMEOUT_MS)
        net_retry_later(n, now, "no answer to CONNECT");
    if (n->state != NET_UP)
        return true;
    net_status(n);
    if (n->ha_due) {
        net_ha_publish(n, false);
        n->ha_due = false;
    }
    if (gw->o.refresh_s && now >= n->refresh_at) {
        net_mark_all(n, false);
        n->state_force = true;
        n->refresh_at = now + gw->o.refresh_s * 1000;
    }
    net_flush(n, now);
    net_state(n, now);
    net_stats(n, now);
    return true;
}

static int net_timeout(const struct net *n, int64_t now)
{
    int64_t next = now + 1000; /* mosquitto_loop_misc: keepalive pings */

    if (n->hal_check_at < next)
        next = n->hal_check_at;
    if (n->state == NET_DOWN && n->retry_at < next)
        next = n->retry_at;
    if (n->due_at && n->due_at < next)
        next = n->due_at;
    if (n->stop_at && n->stop_at < next)
        next = n->stop_at;
    return next <= now ? 0 : (int)(next - now);
}

static void net_wait(struct net *n, int64_t now)
{
    int sock = n->state == NET_DOWN ? -1 : mosquitto_socket(n->mosq);
    struct pollfd p[2] = { { .fd = n->gw->wake_fd, .events = POLLIN },
                           { .fd = sock, .events = POLLIN } };
    uint64_t count;

    if (sock >= 0 && mosquitto_want_write(n->mosq))
        p[1].events |= POLLOUT;
    if (poll(p, sock >= 0 ? 2 : 1, net_timeout(n, now)) < 0)
        return;
    if (p[0].revents & POLLIN && read(n->gw->wake_fd, &count, sizeof(count)) < 0)
        return;
    if (sock >= 0 && (p[1].revents & (POLLIN | POLLERR | POLLHUP)))
        mosquitto_loop_read(n->mosq, 1);
    if (sock >= 0 && n->state != NET_DOWN && (p[1].revents & POLLOUT))
        mosquitto_loop_write(n->mosq, 1);
    if (n->state != NET_DOWN)
        mosquitto_loop_misc(n->mosq);
}

struct net *gw_net_new(struct gw *gw)
{
    struct net *n = calloc(1, sizeof(*n));

    if (!n)
        return NULL;
    n->gw = gw;
    n->mosq = net_new(n);
    if (!n->mosq) {
        free(n);
        return NULL;
    }
    return n;
}

void gw_net_free(struct net *n)
{
    if (!n)
        return;
    mosquitto_destroy(n->mosq);
    hmk_close(n->r);
    gw_buf_free(&n->buf);
    free(n->stats);
    free(n);
}

void *gw_net_main(void *arg)
{
    struct net *n = arg;

    n->refresh_at = gw_now_ms() + n->gw->o.refresh_s * 1000;
    for (;;) {
        int64_t now = gw_now_ms();
        if (!net_step(n, now))
            break;
        net_wait(n, now);
    }
    return NULL;
}
