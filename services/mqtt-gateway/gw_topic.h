/*
 * gw_topic.h - the pure parts of mqtt-gateway(1): topic names, command
 * topics and payloads, the publish policy (deadband, minimum interval) and
 * the reconnect backoff. No I/O, no HAL, no broker: unit-tested alone.
 *
 * Topic layout, under BASE = <prefix>/<machine>:
 *   BASE/status              online | hal-down | offline   (retained; offline is the will)
 *   BASE/pin/<name>          the pin's value as text       (retained)
 *   BASE/pin/<name>/set      command: the new value        (from clients)
 *   BASE/pin/<name>/pulse    command: the value for one servo cycle
 *   BASE/error               one line per refused command  (not retained)
 *   BASE/state               every value as one JSON object (retained; --state-interval)
 *   BASE/stats               the daemon's reaction-time numbers (retained; --stats-interval)
 *   <ha>/<component>/<machine>/<pin>/config   Home Assistant discovery (--ha-discovery)
 */
#ifndef GW_TOPIC_H
#define GW_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "halmk.h"

#define GW_PAYLOAD_MAX 64 /* longer command payloads are refused unread */

enum gw_cmd { GW_CMD_SET = 1, GW_CMD_PULSE = 2 };

/* A prefix, machine or pin name fit for a topic level: non-empty, printable
 * ASCII, none of '/', '+', '#' (MQTT wildcards). Prefix may contain '/'. */
bool gw_name_ok(const char *name, bool allow_slash);

/* BASE/<what> into buf; -ENAMETOOLONG if it does not fit. */
int gw_topic(char *buf, size_t len, const char *base, const char *what);
/* BASE/pin/<name>[/<suffix>] (suffix NULL: the value topic). */
int gw_topic_pin(char *buf, size_t len, const char *base, const char *name, const char *suffix);

/* Splits a command topic BASE/pin/<name>/set|pulse: the pin name (copied
 * into name) and the command. -EINVAL if topic is not a command topic
 * under base, -ENAMETOOLONG if the name does not fit. */
int gw_topic_command(const char *topic, const char *base, char *name, size_t namelen,
                     enum gw_cmd *cmd);

/* A command payload as a value of `type`: the whole payload, exactly as
 * hmk_value_parse reads it (no spaces, no newline). -EMSGSIZE empty or
 * longer than GW_PAYLOAD_MAX, -EINVAL malformed (or NUL inside), -ERANGE
 * out of range for the type. */
int gw_payload_parse(enum hmk_type type, const void *payload, size_t len, hmk_value *out);

/* Publish policy for one pin. A float change smaller than deadband (from
 * the last value published) is not worth a message; any other type publishes
 * every change of value. */
bool gw_worth_publishing(const hmk_value *last, const hmk_value *now, double deadband);

/* Reconnect backoff: the delay after `cur` ms (0: first failure) is
 * doubled, between min_ms and max_ms. */
int gw_backoff_next(int cur, int min_ms, int max_ms);

/* Quotes a payload for an error message: printable ASCII copied, anything
 * else as \xNN, cut with "..." to fit. Always NUL-terminates. */
void gw_quote(char *buf, size_t len, const void *payload, size_t plen);

#endif
