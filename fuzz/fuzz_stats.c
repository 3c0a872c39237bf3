/*
 * fuzz_stats - the reading of the daemon's `stats` records
 * (lib/hmk_ctl_client.c), which hal-microkernelctl, halweb and mqtt-gateway
 * all use; every number in one is what a service claimed.
 *
 * Input: one reply line without its newline (NUL-terminated here, as the
 * callers split the reply on newlines).
 *
 * Properties (abort() on violation): a refusal is -EINVAL and leaves
 * nothing but a cleared record; an accepted record has a valid service name
 * and its JSON object, histogram included, fits HMK_CTL_STATS_JSON_MAX; the
 * quantiles are 0 exactly when no bucket counts anything, and never fall
 * below the median.
 */
#include "hmk_ctl_client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct hmk_ctl_stats zero;
    struct hmk_ctl_stats s;
    char *line = malloc(size + 1), obj[HMK_CTL_STATS_JSON_MAX];
    uint64_t p50, p99;
    bool any = false;
    int ret;

    memcpy(line, data, size);
    line[size] = '\0';
    memset(&s, 0x5a, sizeof(s));
    ret = hmk_ctl_stats_parse(line, &s);
    if (ret < 0) {
        if (ret != -EINVAL || memcmp(&s, &zero, sizeof(s)))
            abort();
    } else {
        if (ret != 0 || !memchr(s.name, '\0', sizeof(s.name)) || !hmk_ctl_name_valid(s.name, strlen(s.name)))
            abort();
        if (hmk_ctl_stats_json(&s, 1, obj, sizeof(obj)) <= 0)
            abort();
        for (unsigned k = 0; k < HMK_TELEMETRY_BUCKETS; k++)
            any |= s.hist[k] != 0;
        p50 = hmk_ctl_stats_quantile(&s, 0.5);
        p99 = hmk_ctl_stats_quantile(&s, 0.99);
        if ((p50 == 0) == any || (p99 == 0) == any || p99 < p50)
            abort();
    }
    free(line);
    return 0;
}
