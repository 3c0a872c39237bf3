/*
 * ctl_parse.h - the control request parser: a pure function over bytes (no
 * I/O, no allocation, no global state) so it can be fuzzed on its own.
 * Protocol: include/hmk_ctl.h.
 */
#ifndef HMK_CTL_PARSE_H
#define HMK_CTL_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "hmk_ctl.h"

struct ctl_request {
    enum hmk_ctl_verb verb;
    bool has_name;
    char name[HMK_CTL_NAME_MAX + 1];
};

/* buf[0..len) must be exactly one request line ending in '\n'. Returns 0, or
 * -EINVAL with *why set to a static phrase for the error reply. */
int ctl_parse_request(const char *buf, size_t len, struct ctl_request *out, const char **why);

#endif
