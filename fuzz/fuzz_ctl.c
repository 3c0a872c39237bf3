/*
 * fuzz_ctl - the control socket's request parser (daemon/ctl_parse.c).
 *
 * Input: the bytes of one request as read from the socket (the parser gets
 * exactly those bytes, in a buffer of exactly that size, so ASan sees any
 * read past the end).
 *
 * Properties (abort() on violation): a refusal is -EINVAL with a reason; an
 * accepted request is exactly "VERB\n" or "VERB NAME\n" as hmk_ctl.h
 * defines it (printing it back gives the input, byte for byte), with a
 * known verb, a valid NAME, and a NAME for every verb that needs one.
 */
#include "ctl_parse.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ctl_request req;
    const char *why = NULL;
    char *buf = malloc(size ? size : 1);
    char back[HMK_CTL_REQUEST_MAX + 16];
    int ret, n;

    memcpy(buf, data, size);
    memset(&req, 0x5a, sizeof(req));
    ret = ctl_parse_request(buf, size, &req, &why);
    if (ret < 0) {
        if (ret != -EINVAL || !why || !*why)
            abort();
    } else {
        if (ret != 0)
            abort();
        if (req.verb < HMK_CTL_STATUS || req.verb > HMK_CTL_STATS)
            abort();
        /* status and stats take an optional NAME, channel none */
        if (req.verb != HMK_CTL_STATUS && req.verb != HMK_CTL_STATS && req.verb != HMK_CTL_CHANNEL &&
            !req.has_name)
            abort();
        if (req.verb == HMK_CTL_CHANNEL && req.has_name)
            abort();
        if (req.has_name) {
            if (!memchr(req.name, '\0', sizeof(req.name)) ||
                !hmk_ctl_name_valid(req.name, strlen(req.name)))
                abort();
            n = snprintf(back, sizeof(back), "%s %s\n", hmk_ctl_verb_name(req.verb), req.name);
        } else {
            n = snprintf(back, sizeof(back), "%s\n", hmk_ctl_verb_name(req.verb));
        }
        if (n < 0 || (size_t)n != size || memcmp(back, data, size) != 0)
            abort();
    }
    free(buf);
    return 0;
}
