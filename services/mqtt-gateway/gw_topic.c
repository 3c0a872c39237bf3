/*
 * gw_topic.c - topic names, command parsing and publish policy for
 * mqtt-gateway(1); see gw_topic.h.
 */
#include "gw_topic.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

bool gw_name_ok(const char *name, bool allow_slash)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++) {
        if (*p <= ' ' || *p > '~' || *p == '+' || *p == '#')
            return false;
        if (*p == '/' && !allow_slash)
            return false;
    }
    /* an empty level ("a//b", "/a", "a/") is legal MQTT but a trap for users */
    if (allow_slash && (name[0] == '/' || name[strlen(name) - 1] == '/' || strstr(name, "//")))
        return false;
    return true;
}

int gw_topic(char *buf, size_t len, const char *base, const char *what)
{
    int n = snprintf(buf, len, "%s/%s", base, what);

    return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : n;
}

int gw_topic_pin(char *buf, size_t len, const char *base, const char *name, const char *suffix)
{
    int n = snprintf(buf, len, "%s/pin/%s%s%s", base, name, suffix ? "/" : "",
                     suffix ? suffix : "");

    return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : n;
}

int gw_topic_command(const char *topic, const char *base, char *name, size_t namelen,
                     enum gw_cmd *cmd)
{
    size_t blen = strlen(base), n;
    const char *rest, *slash;

    if (strncmp(topic, base, blen) != 0 || strncmp(topic + blen, "/pin/", 5) != 0)
        return -EINVAL;
    rest = topic + blen + 5;
    slash = strchr(rest, '/');
    if (!slash || slash == rest)
        return -EINVAL;
    if (!strcmp(slash + 1, "set"))
        *cmd = GW_CMD_SET;
    else if (!strcmp(slash + 1, "pulse"))
        *cmd = GW_CMD_PULSE;
    else
        return -EINVAL;
    n = (size_t)(slash - rest);
    if (n >= namelen)
        return -ENAMETOOLONG;
    memcpy(name, rest, n);
    name[n] = '\0';
    return 0;
}

int gw_payload_parse(enum hmk_type type, const void *payload, size_t len, hmk_value *out)
{
    char text[GW_PAYLOAD_MAX + 1];

    if (len == 0 || len > GW_PAYLOAD_MAX)
        return -EMSGSIZE;
    memcpy(text, payload, len);
    text[len] = '\0';
    if (strlen(text) != len) /* a NUL inside would cut the text short */
        return -EINVAL;
    return hmk_value_parse(type, text, out);
}

bool gw_worth_publishing(const hmk_value *last, const hmk_value *now, double deadband)
{
    if (last->type != now->type)
        return true;
    switch (now->type) {
    case HMK_TYPE_BIT: return last->b != now->b;
    case HMK_TYPE_S32: return last->s != now->s;
    case HMK_TYPE_U32: return last->u != now->u;
    case HMK_TYPE_FLOAT:
        if (deadband > 0)
            return fabs(now->f - last->f) >= deadband;
        /* bitwise: -0.0 vs 0.0 prints differently, so it is a change */
        return memcmp(&last->f, &now->f, sizeof(double)) != 0;
    }
    return true;
}

int gw_backoff_next(int cur, int min_ms, int max_ms)
{
    long next = cur <= 0 ? min_ms : (long)cur * 2;

    if (next < min_ms)
        next = min_ms;
    return next > max_ms ? max_ms : (int)next;
}

void gw_quote(char *buf, size_t len, const void *payload, size_t plen)
{
    const unsigned char *p = payload;
    size_t o = 0;

    if (!len)
        return;
    for (size_t i = 0; i < plen; i++) {
        char piece[8];
        int n = (p[i] >= ' ' && p[i] <= '~' && p[i] != '\\')
                    ? snprintf(piece, sizeof(piece), "%c", p[i])
                    : snprintf(piece, sizeof(piece), "\\x%02x", p[i]);
        if (o + (size_t)n + 4 > len) { /* room for "..." and the NUL */
            snprintf(buf + o, len - o, "...");
            return;
        }
        memcpy(buf + o, piece, (size_t)n);
        o += (size_t)n;
    }
    buf[o] = '\0';
}
