/* ctl_parse.c - see ctl_parse.h */
#include "ctl_parse.h"

#include <errno.h>
#include <string.h>

int ctl_parse_request(const char *buf, size_t len, struct ctl_request *out, const char **why)
{
    static const struct { const char *word; enum hmk_ctl_verb verb; bool name; } verbs[] = {
        { "status", HMK_CTL_STATUS, false }, { "start", HMK_CTL_START, true },
        { "stop", HMK_CTL_STOP, true },      { "restart", HMK_CTL_RESTART, true },
        { "channel", HMK_CTL_CHANNEL, false }, { "stats", HMK_CTL_STATS, false },
    };
    const char *sp, *end;
    size_t wlen;

    if (len > 0 && len <= HMK_CTL_REQUEST_MAX && buf[len - 1] != '\n' &&
        !memchr(buf, '\n', len)) {
        *why = "request must end with a newline";
        return -EINVAL;
    }
    if (len == 0 || len > HMK_CTL_REQUEST_MAX || buf[len - 1] != '\n') {
        *why = "request must be one line of at most 127 characters";
        return -EINVAL;
    }
    end = buf + len - 1;
    if (memchr(buf, '\n', len - 1) || memchr(buf, '\0', len)) {
        *why = "request must be one line of at most 127 characters";
        return -EINVAL;
    }
    sp = memchr(buf, ' ', (size_t)(end - buf));
    wlen = (size_t)((sp ? sp : end) - buf);
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        if (strlen(verbs[i].word) != wlen || memcmp(buf, verbs[i].word, wlen))
            continue;
        out->verb = verbs[i].verb;
        out->has_name = sp != NULL;
        out->name[0] = '\0';
        if (!sp) {
            if (verbs[i].name) {
                *why = "missing service name";
                return -EINVAL;
            }
            return 0;
        }
        if (verbs[i].verb == HMK_CTL_CHANNEL) {
            *why = "channel takes no argument";
            return -EINVAL;
        }
        if (!hmk_ctl_name_valid(sp + 1, (size_t)(end - sp - 1))) {
            *why = "invalid service name";
            return -EINVAL;
        }
        memcpy(out->name, sp + 1, (size_t)(end - sp - 1));
        out->name[end - sp - 1] = '\0';
        return 0;
    }
    *why = "unknown request (expected status, stats, start, stop, restart or channel)";
    return -EINVAL;
}
