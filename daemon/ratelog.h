/*
 * ratelog.h - per-source log rate limiting: at most RATELOG_BURST lines in
 * any RATELOG_WINDOW_MS window; the rest are counted, and the count is
 * handed back once so the caller can log one "N messages suppressed" line.
 *
 * The daemon keeps one per service for its lifecycle lines (started, exited,
 * restarting): a service crash-looping every few milliseconds would
 * otherwise write three lines per crash. Lines that end a story (the
 * service failed for good) bypass it, after a ratelog_flush().
 *
 * Pure: no I/O, time passed in (CLOCK_MONOTONIC ms). Non-realtime.
 */
#ifndef HMK_RATELOG_H
#define HMK_RATELOG_H

#include <stdbool.h>
#include <stdint.h>

#define RATELOG_BURST 12u
#define RATELOG_WINDOW_MS 30000u

struct ratelog {
    uint64_t window_start_ms;
    unsigned used;        /* lines let through in this window */
    unsigned suppressed;  /* lines held back, not yet reported */
    bool started;
};

/* Whether a line may be logged at now_ms. *report gets the number of lines
 * suppressed in a window that has ended (log that first), else 0. */
bool ratelog_allow(struct ratelog *r, uint64_t now_ms, unsigned *report);

/* The lines suppressed so far and not yet reported; resets the count. For
 * a final line that must say what it followed. */
unsigned ratelog_flush(struct ratelog *r);

#endif
