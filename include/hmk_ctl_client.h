/*
 * hmk_ctl_client.h - asking the daemon over its control socket, for the
 * programs that show what it says: hal-microkernelctl, halweb and
 * mqtt-gateway. The protocol itself is include/hmk_ctl.h; this is the one
 * reading of its replies, so the three never disagree on a field.
 *
 * Library-style: returns -errno, never logs, never waits longer than the
 * timeout it is given (a wedged daemon costs a caller at most that).
 * Static library hmk_ctl_client; not part of libhalmk's ABI.
 */
#ifndef HMK_CTL_CLIENT_H
#define HMK_CTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "hmk_ctl.h"
#include "hmk_svc_abi.h"

/* One `stats` record: a service's reaction-time numbers, as the service
 * recorded them (hmk_svc_abi.h). */
struct hmk_ctl_stats {
    char name[HMK_CTL_NAME_MAX + 1];
    uint64_t deadline_ns; /* 0: none configured */
    uint64_t count, misses, max_ns, sum_ns;
    uint64_t hist[HMK_TELEMETRY_BUCKETS];
};

/* Connects to path, sends request (one line, without its '\n'), reads the
 * reply until the daemon closes. Each step may take timeout_ms. *reply is
 * the whole reply, malloc'd and NUL-terminated (free it). Returns 0 when the
 * final line is "ok", -EREMOTEIO when it is "error\tMESSAGE" (*reply holds
 * it), -EPROTO when the reply has no final line, else -errno of the step that
 * failed (-ETIMEDOUT for a daemon that did not answer in time). */
int hmk_ctl_ask(const char *path, const char *request, int timeout_ms, char **reply);

/* 0, or -EINVAL (and *out cleared) if line (without '\n') is not a
 * well-formed stats record. */
int hmk_ctl_stats_parse(const char *line, struct hmk_ctl_stats *out);

/* Upper bound (ns) of the log2 bucket holding quantile q (0..1) of the
 * recorded reactions; 0 when none were recorded. */
uint64_t hmk_ctl_stats_quantile(const struct hmk_ctl_stats *s, double q);

/* The record as one JSON object, the same in every program that shows it:
 * {"name","deadline_ns","count","misses","max_ns","sum_ns","mean_ns",
 *  "p50_le_ns","p99_le_ns"} and, with hist, "hist_log2_ns". Returns the
 * length written (without NUL) or -ENOSPC. */
int hmk_ctl_stats_json(const struct hmk_ctl_stats *s, int hist, char *buf, size_t len);
/* a buffer this big holds any record's object, hist included */
#define HMK_CTL_STATS_JSON_MAX 2048u

/* `stats` for every service: *out malloc'd (free it), *n records. The
 * errors of hmk_ctl_ask; -EPROTO for a malformed record. */
int hmk_ctl_get_stats(const char *path, int timeout_ms, struct hmk_ctl_stats **out, size_t *n);

/* The control socket a service should ask: $HMK_CONTROL_SOCKET (set by the
 * daemon for its services), else HMK_CTL_DEFAULT_SOCKET. */
const char *hmk_ctl_socket_path(void);

#endif
