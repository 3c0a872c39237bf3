/*
 * gw_ha.c - what mqtt-gateway(1) says about its pins beyond their values:
 * Home Assistant MQTT discovery configs (--ha-discovery) and the bulk
 * state object (--state-interval). Builds text only; gw_net.c publishes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "gw_json.h"
#include "gw_topic.h"
#include "hmk_version.h"

#define GW_HA_ID_MAX 128
/* HA's number entity clamps to min/max (default 1..100), so a float pin
 * needs bounds; HAL floats have none, so these are "as wide as a person
 * types" rather than the double's range, which the UI cannot show. */
#define GW_HA_FLOAT_LIMIT 1e15

/* Written by the gateway's grant, read by HA: a pin the daemon lets us
 * write is a control, any other an indicator. */
const char *gw_ha_component(const struct gw_pin *p)
{
    bool bit = p->type == HMK_TYPE_BIT;

    if (p->settable)
        return bit ? "switch" : "number";
    return bit ? "binary_sensor" : "sensor";
}

int gw_ha_topic(char *buf, size_t len, const struct gw *gw, const struct gw_pin *p)
{
    char node[GW_HA_ID_MAX], obj[GW_HA_ID_MAX];
    int n;

    if (gw_ha_id(node, sizeof(node), gw->o.machine) < 0 || gw_ha_id(obj, sizeof(obj), p->name) < 0)
        return -ENAMETOOLONG;
    n = snprintf(buf, len, "%s/%s/%s/%s/config", gw->o.ha_prefix, gw_ha_component(p), node, obj);
    return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : n;
}

static void gw_ha_key(struct gw_buf *b, const char *key, const char *value)
{
    gw_buf_fmt(b, ",\"%s\":", key);
    gw_buf_str(b, value);
}

/* Availability: one entry on BASE/status. Its payloads are online,
 * hal-down and offline, and HA ignores a payload that is neither
 * payload_available nor payload_not_available, so hal-down would leave the
 * entity "available" with stale values; the template maps everything but
 * online to offline. */
static void gw_ha_availability(struct gw_buf *b, const struct gw *gw)
{
    char topic[300];

    gw_topic(topic, sizeof(topic), gw->base, "status");
    gw_buf_raw(b, ",\"availability\":[{\"topic\":");
    gw_buf_str(b, topic);
    gw_buf_raw(b, ",\"value_template\":\"{{ 'online' if value == 'online' else 'offline' }}\","
                  "\"payload_available\":\"online\",\"payload_not_available\":\"offline\"}]");
}

static void gw_ha_device(struct gw_buf *b, const struct gw *gw)
{
    gw_buf_raw(b, ",\"device\":{\"identifiers\":[");
    gw_buf_str(b, gw->o.machine);
    gw_buf_raw(b, "]");
    gw_ha_key(b, "name", gw->o.machine);
    gw_ha_key(b, "manufacturer", "hal-microkernel");
    gw_ha_key(b, "model", "hal-microkernel");
    gw_ha_key(b, "sw_version", HMK_VERSION);
    gw_buf_raw(b, "}");
}

/* Bits go out as hmk_value_format writes them (TRUE/FALSE), and a switch
 * sends the same words to /set, which parses them back. */
static void gw_ha_kind(struct gw_buf *b, const struct gw *gw, const struct gw_pin *p)
{
    char topic[300];

    if (p->type == HMK_TYPE_BIT) {
        gw_ha_key(b, "payload_on", "TRUE");
        gw_ha_key(b, "payload_off", "FALSE");
    }
    if (!p->settable)
        return;
    gw_topic_pin(topic, sizeof(topic), gw->base, p->name, "set");
    gw_ha_key(b, "command_topic", topic);
    gw_buf_raw(b, ",\"retain\":false"); /* the gateway refuses retained commands */
    if (p->type == HMK_TYPE_S32)
        gw_buf_raw(b, ",\"min\":-2147483648,\"max\":2147483647,\"step\":1,\"mode\":\"box\"");
    else if (p->type == HMK_TYPE_U32)
        gw_buf_raw(b, ",\"min\":0,\"max\":4294967295,\"step\":1,\"mode\":\"box\"");
    else if (p->type == HMK_TYPE_FLOAT)
        gw_buf_fmt(b, ",\"min\":%g,\"max\":%g,\"step\":0.001,\"mode\":\"box\"", -GW_HA_FLOAT_LIMIT,
                   GW_HA_FLOAT_LIMIT);
}

int gw_ha_config(struct gw_buf *b, const struct gw *gw, const struct gw_pin *p)
{
    char node[GW_HA_ID_MAX], obj[GW_HA_ID_MAX], topic[300];

    if (gw_ha_id(node, sizeof(node), gw->o.machine) < 0 || gw_ha_id(obj, sizeof(obj), p->name) < 0 ||
        gw_topic_pin(topic, sizeof(topic), gw->base, p->name, NULL) < 0)
        return -ENAMETOOLONG;
    gw_buf_reset(b);
    gw_buf_raw(b, "{\"name\":");
    gw_buf_str(b, p->name);
    gw_buf_fmt(b, ",\"unique_id\":\"hmk_%s_%s\"", node, obj);
    gw_ha_key(b, "state_topic", topic);
    gw_buf_fmt(b, ",\"qos\":%d", gw->o.qos);
    gw_ha_availability(b, gw);
    gw_ha_device(b, gw);
    gw_ha_kind(b, gw, p);
    gw_buf_raw(b, "}");
    return b->err;
}

/* Two pins whose ids collide would share one HA entity: refused at start
 * (and by -n), naming both. */
int gw_ha_check(const struct gw *gw)
{
    char a[GW_HA_ID_MAX], c[GW_HA_ID_MAX], topic[512];

    for (unsigned i = 0; i < gw->npins; i++) {
        if (gw_ha_topic(topic, sizeof(topic), gw, &gw->pins[i]) < 0) {
            fprintf(stderr, "mqtt-gateway: --ha-discovery: pin '%s': discovery topic too long\n",
                    gw->pins[i].name);
            return -ENAMETOOLONG;
        }
        gw_ha_id(a, sizeof(a), gw->pins[i].name);
        for (unsigned k = i + 1; k < gw->npins; k++) {
            gw_ha_id(c, sizeof(c), gw->pins[k].name);
            if (!strcmp(a, c)) {
                fprintf(stderr, "mqtt-gateway: --ha-discovery: pins '%s' and '%s' both have the "
                                "Home Assistant id '%s'\n", gw->pins[i].name, gw->pins[k].name, a);
                return -EEXIST;
            }
        }
    }
    return 0;
}

/* {"pin": value, ..., "cycle": N} from the table, as one consistent copy
 * (the lock is held while building: no I/O, a few µs for a few hundred
 * pins). A pin not known yet is null, so the keys never change. Clears
 * state_dirty: what it built is the latest. */
int gw_state_json(struct gw_buf *b, struct gw *gw, uint64_t cycle_now)
{
    uint64_t cycle;

    gw_buf_reset(b);
    gw_buf_raw(b, "{");
    pthread_mutex_lock(&gw->lock);
    for (unsigned k = 0; k < gw->npins; k++) {
        const struct gw_pin *p = &gw->pins[k];
        gw_buf_str(b, p->name);
        gw_buf_raw(b, ":");
        if (p->have)
            gw_buf_value(b, &p->value);
        else
            gw_buf_raw(b, "null");
        gw_buf_raw(b, ",");
    }
    cycle = gw->cycle ? gw->cycle : cycle_now;
    gw->state_dirty = false;
    pthread_mutex_unlock(&gw->lock);
    gw_buf_fmt(b, "\"cycle\":%llu}", (unsigned long long)cycle);
    return b->err;
}
