/*
 * gw_json.h - the little JSON mqtt-gateway(1) writes: Home Assistant
 * discovery configs and the bulk state object. Pure (no I/O, no HAL, no
 * broker), unit-tested in tests/unit/test_gw_topic.c.
 *
 * A growable buffer whose first failure sticks: callers append without
 * checking each step and test `err` once at the end, so a half-built
 * message is never published.
 */
#ifndef GW_JSON_H
#define GW_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "halmk.h"

struct gw_buf {
    char *p;    /* NUL-terminated while err == 0 */
    size_t len, cap;
    int err;    /* first -errno, sticky */
};

void gw_buf_reset(struct gw_buf *b);  /* empty, keeps the memory */
void gw_buf_free(struct gw_buf *b);
void gw_buf_raw(struct gw_buf *b, const char *s);
void gw_buf_fmt(struct gw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string, quoted: '"', '\\' and control characters escaped
 * (names are printable ASCII, but topics and templates pass through here
 * too, and nothing unescaped may reach a parser). */
void gw_buf_str(struct gw_buf *b, const char *s);
/* v as a JSON value: bit true/false, integers in decimal, floats as the
 * shortest text that reads back exactly; NaN and infinities, which JSON
 * cannot carry, as null. */
void gw_buf_value(struct gw_buf *b, const hmk_value *v);

/* name as a Home Assistant node or object id: [A-Za-z0-9_-] kept, any
 * other byte becomes '_' ("spindle.0.speed" -> "spindle_0_speed").
 * -ENAMETOOLONG if it does not fit. */
int gw_ha_id(char *out, size_t len, const char *name);

#endif
