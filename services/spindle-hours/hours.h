/*
 * hours.h - the pure parts of spindle-hours(1): the run-time accumulator
 * and the state file's text, kept apart from its I/O for the unit tests.
 *
 * Time is counted in integer nanoseconds of CLOCK_MONOTONIC (584 years fit
 * in 64 bits), so adding up many short runs never drifts the way a sum of
 * floating-point hours would.
 */
#ifndef HOURS_H
#define HOURS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hours_acc {
    uint64_t total_ns;  /* accumulated run time */
    uint64_t mark_ns;   /* monotonic time total_ns is counted up to */
    bool running;
};

void hours_init(struct hours_acc *a, uint64_t total_ns, uint64_t now_ns);
/* Counts the time since the last mark if running, and moves the mark. A
 * clock that went backwards (it cannot, with CLOCK_MONOTONIC) counts 0. */
void hours_update(struct hours_acc *a, uint64_t now_ns);
/* hours_update, then the new run state. */
void hours_set_running(struct hours_acc *a, bool running, uint64_t now_ns);
/* Counts up to upto_ns only, then restarts counting at now_ns: for a gap
 * in which nobody could see the run pin (the region was gone). */
void hours_skip(struct hours_acc *a, uint64_t upto_ns, uint64_t now_ns);
double hours_total_h(const struct hours_acc *a);

/* State file: exactly "spindle-hours 1\ntotal_ms N\n", N decimal without
 * sign or leading zeros. Anything else is -EBADMSG: a maintenance counter
 * is never silently reset. format returns the length or -ENOSPC. */
#define HOURS_STATE_MAX 64
int hours_state_format(uint64_t total_ms, char *buf, size_t len);
int hours_state_parse(const char *buf, size_t len, uint64_t *total_ms);

#endif
