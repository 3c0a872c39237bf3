/*
 * mtc.h - the pure parts of mtconnect-adapter: the mapping file (HAL pin ->
 * MTConnect data item), SHDR value/line formatting and Devices.xml. No I/O
 * besides reading the mapping file, no HAL: unit-tested on their own
 * (tests/mtconnect/test_mtc.c).
 */
#ifndef MTC_H
#define MTC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "halmk.h"

#define MTC_MAX_ITEMS 256
#define MTC_KEY_MAX   64    /* SHDR key = DataItem id */
#define MTC_WORD_MAX  64    /* map labels, units, types, condition fields */
#define MTC_TEXT_MAX  160   /* condition text */
#define MTC_MAP_MAX   32
#define MTC_PIN_MAX   48    /* region pin names (HAL_NAME_LEN + 1) */
/* one item's SHDR value: a condition's 5 fields (level|code|sev|qual|text) */
#define MTC_VAL_MAX   (4 * MTC_WORD_MAX + MTC_TEXT_MAX + 8)

enum mtc_kind { MTC_EVENT = 1, MTC_SAMPLE, MTC_CONDITION };

struct mtc_map_ent {
    int64_t from;                   /* bit: 0/1, s32/u32: the number */
    char to[MTC_WORD_MAX];
};

struct mtc_item {
    enum mtc_kind kind;
    unsigned line;                  /* of its [section] header, for errors */
    char key[MTC_KEY_MAX];
    char pin[MTC_PIN_MAX];    /* region pin name */
    char type[MTC_WORD_MAX];        /* MTConnect type, e.g. ROTARY_VELOCITY */
    char subtype[MTC_WORD_MAX];
    char units[MTC_WORD_MAX];
    char name[MTC_WORD_MAX];        /* DataItem name (optional) */
    double scale, deadband;
    int precision;                  /* significant digits of samples */
    bool invert;                    /* bit pins: use the negated value */
    unsigned nmap;
    struct mtc_map_ent map[MTC_MAP_MAX];
    char dflt[MTC_WORD_MAX];        /* unmapped value; "" = the number itself */
    /* conditions: the fields sent while the pin is true */
    char level[MTC_WORD_MAX], native_code[MTC_WORD_MAX], native_severity[MTC_WORD_MAX],
        qualifier[MTC_WORD_MAX], text[MTC_TEXT_MAX];
};

struct mtc_config {
    char file[256];
    char listen[80];                /* host:port, [v6]:port */
    char region[MTC_PIN_MAX]; /* "" = default */
    char device[MTC_WORD_MAX], uuid[MTC_WORD_MAX], avail_key[MTC_KEY_MAX];
    bool avail_needs_daemon;        /* availability = daemon | attached */
    unsigned heartbeat_ms;          /* the PONG value */
    size_t client_buffer;           /* bytes queued per client before it is dropped */
    unsigned max_clients;
    unsigned nitems;
    struct mtc_item item[MTC_MAX_ITEMS];
};

/* Parse a mapping file (format in mtconnect-adapter(1)). On error returns
 * -EINVAL with "FILE:LINE: what" in err; c is then not to be used. */
int mtc_config_parse(struct mtc_config *c, const char *file, FILE *f, char *err, size_t errlen);
int mtc_config_load(struct mtc_config *c, const char *path, char *err, size_t errlen);

/* Is pin type t usable for item it? 0, or -EINVAL with "FILE:LINE: ..." in err. */
int mtc_item_check_type(const struct mtc_config *c, const struct mtc_item *it, enum hmk_type t,
                        char *err, size_t errlen);

/* The SHDR value of `it` for HAL value v (for conditions the five fields
 * level|code|severity|qualifier|text). *num gets the number a sample's
 * deadband compares (NAN otherwise). Returns the length, -ENOSPC. */
int mtc_item_value(const struct mtc_item *it, const hmk_value *v, char *buf, size_t len,
                   double *num);
/* The value an item has while nothing is known. */
const char *mtc_item_unavailable(const struct mtc_item *it);
/* Should a sample go out? (deadband against the last value sent) */
bool mtc_item_passes(const struct mtc_item *it, double last, double now);

/* YYYY-MM-DDThh:mm:ss.fffZ; buf >= 25 bytes. */
int mtc_format_time(uint64_t utc_ms, char *buf, size_t len);
/* In place: '|' -> '/', control characters -> ' ' (SHDR has no escape
 * that cppagent 1.8 understands; a '|' would split the field). */
void mtc_sanitize(char *s);

/* Growable byte buffer for SHDR lines. */
struct mtc_buf {
    char *p;
    size_t len, cap;
};
int mtc_buf_add(struct mtc_buf *b, const char *s, size_t n);
int mtc_buf_printf(struct mtc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mtc_buf_free(struct mtc_buf *b);

/* "ts|key|value|key|value\n" for events/samples, then "ts|key|cond...\n"
 * per condition: vals[i] is the value of item i, want[i] says which to send. */
int mtc_lines(const struct mtc_config *c, const char *ts, const char *avail,
              char (*vals)[MTC_VAL_MAX], const bool *want, struct mtc_buf *out);

/* Devices.xml (MTConnectDevices 2.0) and an agent.cfg snippet. */
int mtc_write_devices(const struct mtc_config *c, FILE *f);
int mtc_write_agent_cfg(const struct mtc_config *c, FILE *f);

#endif
