/*
 * web_json.h - the pure parts of the web service: JSON text, the write
 * request, the daemon's status records, the HAL-connected judgement and the
 * request checks (token, Origin). No I/O, no threads, no globals, so each
 * is unit-tested (tests/web/test_web_json.c).
 */
#ifndef WEB_JSON_H
#define WEB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "halmk.h"
#include "hmk_ctl_client.h"

/* A growing text buffer with a hard cap: past it, `full` is set and
 * nothing more is appended (the caller answers an error, never sends a
 * half object). */
struct wj_buf {
    char *p;
    size_t len, cap, max;
    bool full;
};

void wj_init(struct wj_buf *b, size_t max);
void wj_free(struct wj_buf *b);
void wj_reset(struct wj_buf *b);
void wj_raw(struct wj_buf *b, const char *s);
void wj_printf(struct wj_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string: quoted, with ", \ and control characters escaped. */
void wj_str(struct wj_buf *b, const char *s);
/* bit as true/false, numbers in the shortest exact form; a float that is
 * NaN or infinite as the string "nan", "inf" or "-inf" (JSON has no such
 * numbers). */
void wj_value(struct wj_buf *b, const hmk_value *v);

/* One record of the daemon's `status` reply (see hmk_ctl.h), without the
 * newline. */
struct web_svc {
    char name[64];
    char state[16];
    unsigned long pid;
    unsigned long long uptime_ms;
    unsigned long restarts;
    char last_exit[97];
    bool has_stats;            /* the daemon's `stats` named it */
    struct hmk_ctl_stats stats;
};
/* 0, or -EINVAL if line is not a well-formed `service` record. */
int web_parse_service(const char *line, struct web_svc *out);

/* A write or pulse request: {"pin": "NAME", "value": true|number|"text"}.
 * The value comes back as text for hmk_value_parse, which checks it
 * against the pin's type. On error returns -EINVAL and sets *why to a
 * short phrase for the JSON error reply. */
struct web_write_req {
    char pin[64];
    char text[64];
};
int web_parse_write(const char *body, size_t len, struct web_write_req *out, const char **why);

/* The one place that decides "is HAL connected": the region is attached
 * and the daemon's heartbeat (the liveness the bridge drives
 * <prefix>.connected from) is younger than the bridge's timeout. When the
 * bridge publishes its own connected flag, this reads that instead. */
bool web_hal_connected(bool attached, const struct hmk_stats *st, uint64_t now_ns);

/* Equal strings, in time that depends only on their lengths. */
bool web_token_eq(const char *given, const char *want);
/* A browser's Origin header against the Host it asked: NULL (no browser,
 * e.g. curl) passes; otherwise it must be exactly http://HOST. */
bool web_origin_ok(const char *origin, const char *host);

#endif
