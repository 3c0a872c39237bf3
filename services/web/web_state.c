/*
 * web_state.c - the JSON the browsers get, built from the pin table (see
 * web_state.h; the callers hold the lock).
 */
#include <inttypes.h>
#include <stdio.h>

#include "web_state.h"

static void pin_json(const struct web_pin *p, unsigned i, struct wj_buf *b, bool full)
{
    wj_printf(b, "{\"i\":%u,", i);
    if (full) {
        wj_raw(b, "\"name\":");
        wj_str(b, p->name);
        wj_printf(b, ",\"type\":\"%s\",\"dir\":\"%s\",", hmk_type_name(p->type),
                  hmk_dir_name(p->dir));
    }
    wj_raw(b, "\"v\":");
    wj_value(b, &p->val);
    if (p->has_out) {
        wj_raw(b, ",\"o\":");
        wj_value(b, &p->out);
    }
    /* w: the page shows write controls only where the service may write */
    if (full && p->has_out)
        wj_printf(b, ",\"w\":%s", p->granted ? "true" : "false");
    wj_printf(b, ",\"c\":%" PRIu64 ",\"t\":%" PRId64 ",\"bt\":%.3f}", p->cycle, p->wall_ms,
              p->bridge_ms);
}

void web_json_status(struct web_state *s, struct wj_buf *b)
{
    const struct web_status *st = &s->st;

    wj_printf(b, "{\"attached\":%s,\"connected\":%s,\"fault\":%s,\"generation\":%" PRIu64
                 ",\"cycle\":%" PRIu64 ",\"clients\":%u,\"dropped\":%" PRIu64
                 ",\"stream\":%s,\"services\":",
              st->attached ? "true" : "false", st->connected ? "true" : "false",
              st->fault ? "true" : "false", st->generation, st->cycle, s->clients, s->dropped,
              s->streaming ? "true" : "false");
    if (!st->svc_known) {
        wj_raw(b, "null}");
        return;
    }
    wj_raw(b, "[");
    for (unsigned i = 0; i < st->nsvc; i++) {
        const struct web_svc *v = &st->svc[i];
        wj_raw(b, i ? ",{\"name\":" : "{\"name\":");
        wj_str(b, v->name);
        wj_raw(b, ",\"state\":");
        wj_str(b, v->state);
        wj_printf(b, ",\"pid\":%lu,\"uptime_ms\":%llu,\"restarts\":%lu,\"last_exit\":", v->pid,
                  v->uptime_ms, v->restarts);
        wj_str(b, v->last_exit);
        if (v->has_stats) {
            char obj[HMK_CTL_STATS_JSON_MAX];
            if (hmk_ctl_stats_json(&v->stats, 0, obj, sizeof(obj)) > 0) {
                wj_raw(b, ",\"stats\":");
                wj_raw(b, obj);
            }
        }
        wj_raw(b, "}");
    }
    wj_raw(b, "]}");
}

void web_json_snapshot(struct web_state *s, struct wj_buf *b)
{
    wj_printf(b, "{\"layout\":%" PRIu64 ",\"ver\":%" PRIu64 ",\"pins\":[", s->layout, s->ver);
    for (unsigned i = 0; i < s->npins; i++) {
        if (i)
            wj_raw(b, ",");
        pin_json(&s->pin[i], i, b, true);
    }
    wj_raw(b, "],\"status\":");
    web_json_status(s, b);
    wj_raw(b, "}");
}

void web_json_delta(struct web_state *s, struct wj_buf *b, uint64_t since)
{
    bool first = true;
    uint64_t cycle = 0;

    wj_printf(b, "{\"ver\":%" PRIu64 ",\"pins\":[", s->ver);
    for (unsigned i = 0; i < s->npins; i++) {
        if (s->pin[i].ver <= since)
            continue;
        if (!first)
            wj_raw(b, ",");
        first = false;
        pin_json(&s->pin[i], i, b, false);
        if (s->pin[i].cycle > cycle)
            cycle = s->pin[i].cycle;
    }
    /* the newest bridge cycle among these changes */
    wj_printf(b, "],\"cycle\":%" PRIu64 "}", cycle);
}
