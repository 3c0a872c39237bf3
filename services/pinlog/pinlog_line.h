/*
 * pinlog_line.h - the pure parts of pinlog(1), kept apart from its I/O so
 * the unit tests can check them: the JSON line for one change, the names of
 * rotated files, and where a torn file has to be cut.
 *
 * Contract: no I/O, no allocation; functions returning int give >= 0 on
 * success and a negative errno on failure.
 */
#ifndef PINLOG_LINE_H
#define PINLOG_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "halmk.h"

/* Longest line plog_format writes: fields, a 47-character pin name with
 * every character escaped, and the longest float text. */
#define PLOG_LINE_MAX 512

struct plog_rec {
    struct timespec wall;   /* CLOCK_REALTIME when pinlog saw the change */
    uint64_t mono_ns;       /* CLOCK_MONOTONIC, same moment */
    uint64_t cycle;         /* bridge cycle of the snapshot it came from */
    const char *pin;        /* region name */
    hmk_value value;
    uint64_t lost;          /* > 0: a "lost" record (pin "", type "lost",
                             * value = changes missed), not a change */
};

/* One JSON object and '\n' into buf; returns its length, -ENOSPC if buf is
 * too small, -EINVAL for an unknown type. Non-finite floats (HAL allows
 * them, JSON does not) are written as the strings "nan", "inf", "-inf". */
int plog_format(const struct plog_rec *r, char *buf, size_t len);

/* Name of rotated file i: "BASE.i", or BASE itself for i == 0. */
int plog_rot_name(char *buf, size_t len, const char *base, unsigned i);

/* Whether a line of `line` bytes must go to a fresh file: the current one
 * is not empty and would grow past max_bytes (0: never rotate). A line
 * longer than max_bytes still goes into an empty file, whole. */
bool plog_need_rotate(uint64_t size, size_t line, uint64_t max_bytes);

/* tail holds the last n bytes of a file of `size` bytes. Returns the size
 * the file must be cut to so that it ends on a complete line (== size when
 * it already does), or -EBADMSG when tail holds no newline but the file is
 * longer than tail: then it is not a pinlog file, and pinlog refuses it. */
int64_t plog_tail_keep(const char *tail, size_t n, uint64_t size);

#endif
