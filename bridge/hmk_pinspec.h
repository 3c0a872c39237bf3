/*
 * hmk_pinspec.h - the bridge's load-time parameter parser, as ordinary C.
 *
 * Contract: non-realtime (called from rtapi_app_main and from unit tests and
 * fuzzers). No allocation, no printing: on failure it returns -EINVAL (or
 * -ERANGE / -E2BIG) and writes one human-readable sentence naming the
 * offending input into `err`. On success `out` holds the full pin table in
 * region order: first the `count` float slots pin.0 .. pin.<count-1>, then
 * the named pins in the order given.
 *
 * Syntax of pins=:  NAME:TYPE:DIR[:POLICY][,NAME:TYPE:DIR[:POLICY]]...
 *   NAME  HAL name characters [A-Za-z0-9_.-], must start with a letter, and
 *         "<prefix>.<NAME>" must fit HAL's 47 characters
 *   TYPE  bit | float | s32 | u32
 *   DIR   in (HAL -> services) | out (services -> HAL) | io (both)
 *   POLICY  out and io pins only: what the pin does while the fault latch
 *         is set (the daemon's heartbeat went stale): "hold" (default) keeps
 *         the last value, a value of the pin's type (0, 1.5, 0x10, true)
 *         drives it. Values are read by the one value parser,
 *         hmk_value_syntax.h (halpoke's), whose header is the syntax.
 */
#ifndef HMK_PINSPEC_H
#define HMK_PINSPEC_H

#include "../include/hmk_region.h"

#define HMK_HAL_NAME_LEN 47
#define HMK_DEFAULT_COUNT 16
#define HMK_ERR_LEN 160

struct hmk_pinspec {
    unsigned n;
    struct hmk_pin_desc pin[HMK_MAX_PINS];
};

/* count == -1 means "default": 16 slots when pins is empty, none otherwise. */
int hmk_pinspec_parse(const char *prefix, int count, const char *pins,
                      struct hmk_pinspec *out, char *err, unsigned errlen);

/* types=: per-slot types, comma-separated, in slot order; an empty item
 * keeps float. Applied after hmk_pinspec_parse. E.g. "float,float,float,bit"
 * makes pin.3.in/pin.3.out bit pins, so a bit signal can be netted to them. */
int hmk_pinspec_slot_types(struct hmk_pinspec *ps, const char *types, char *err, unsigned errlen);

/* safe=: per-slot fault policy, comma-separated in slot order: "hold" or
 * empty keeps the last value, a value of the slot's type (as POLICY above)
 * drives that value. */
int hmk_pinspec_slot_safe(struct hmk_pinspec *ps, const char *safe, char *err, unsigned errlen);

/* Region name and prefix checks shared by the module's parameter checks. */
int hmk_pinspec_check_prefix(const char *prefix, char *err, unsigned errlen);
int hmk_pinspec_check_region(const char *region, char *err, unsigned errlen);
int hmk_pinspec_parse_mode(const char *mode, unsigned *out, char *err, unsigned errlen);

#endif
