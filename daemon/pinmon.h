/*
 * pinmon.h - the pin monitor's pure parts: a token bucket that bounds the
 * log rate, and the change detector. The region I/O and the logging stay in
 * the caller (region.c), so these are unit-tested without a region.
 */
#ifndef HMK_PINMON_H
#define HMK_PINMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "halmk.h"

struct pinmon_bucket {
    double tokens;
    double rate;  /* tokens per second */
    double burst; /* bucket size */
    uint64_t last_ms;
    uint64_t suppressed; /* changes not logged since the last summary */
};

void pinmon_bucket_init(struct pinmon_bucket *b, unsigned rate_per_s, uint64_t now_ms);
/* Refill for the time since the last call, then take one token if there is
 * one. false = over the rate: the caller counts the change as suppressed. */
bool pinmon_bucket_take(struct pinmon_bucket *b, uint64_t now_ms);

/* The summary line: when changes were suppressed and a token is available
 * again, takes it and returns how many were suppressed (then resets the
 * count); otherwise 0. */
uint64_t pinmon_bucket_flush(struct pinmon_bucket *b, uint64_t now_ms);

/* Text for a [PIN-MON] line. Floats: whole numbers below 1e15 as integers
 * (1500), others as the shortest %.Ng that reads back exactly (0.1,
 * 2.5e-07). Other types as libhalmk formats them. Returns the length, or
 * -ENOSPC. */
int pinmon_format(const hmk_value *v, char *buf, size_t len);

/* Values compare equal when they would log the same. */
bool pinmon_value_equal(const hmk_value *a, const hmk_value *b);

#endif
