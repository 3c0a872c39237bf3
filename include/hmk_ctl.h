/*
 * hmk_ctl.h - the hal-microkernel control protocol.
 *
 * Shared by the daemon (daemon/ctl.c, ctl_parse.c) and its clients
 * (tools/hal-microkernelctl.c, lib/hmk_ctl_client.c for halweb and
 * mqtt-gateway, lib/hmk_cap.c for the channel request). Clients never link
 * daemon code: everything the two sides must agree on is in this header.
 *
 * Transport: an AF_UNIX stream socket, by default HMK_CTL_DEFAULT_SOCKET.
 * One request per connection.
 *
 * Request: one line, at most HMK_CTL_REQUEST_MAX bytes including '\n':
 *     status\n            every service
 *     status NAME\n       one service
 *     start NAME\n        set the service's goal to up (also leaves `failed`)
 *     stop NAME\n         set the service's goal to down
 *     restart NAME\n      stop (if running), then start again
 *     stats\n  stats NAME\n  reaction-time telemetry of every service / one
 *     channel\n           the tools write channel: the reply "ok" carries its
 *                         descriptor (SCM_RIGHTS); how libhalmk lets a tool
 *                         run by a user write without being root
 * Words are separated by exactly one space; NAME matches hmk_ctl_name_valid().
 *
 * Reply: zero or more service records, then exactly one final line, then the
 * daemon closes the connection.
 *     service\tNAME\tSTATE\tPID\tUPTIME_MS\tRESTARTS\tLAST_EXIT\n
 *     ok\n                          or
 *     error\tMESSAGE\n
 * STATE is one of starting, running, stopping, backoff, failed, stopped.
 * PID is 0 when no process runs. UPTIME_MS is the time since the current
 * process was started (0 when none). RESTARTS counts automatic restarts.
 * LAST_EXIT is a short phrase ("exited 1", "killed by SIGKILL",
 * "exec failed: No such file or directory") or "-"; it contains no tab or
 * newline. status/start/stop/restart NAME all reply with the record of NAME.
 *
 * stats replies with one record per service instead (see hmk_svc_abi.h
 * for what a reaction is; every number is what the service recorded):
 *     stats\tNAME\tDEADLINE_NS\tCOUNT\tMISSES\tMAX_NS\tSUM_NS\tHIST\n
 * DEADLINE_NS is the configured deadline (0: none); HIST is
 * HMK_TELEMETRY_BUCKETS comma-separated counts, bucket k counting reactions
 * of [2^k, 2^(k+1)) ns. The counts survive the service's restarts.
 *
 * Permissions: anyone who can connect may ask for status and stats; start, stop and
 * restart need a peer (SO_PEERCRED) that is root or a member of the
 * configured control-group; channel needs root or a member of the
 * configured writer-group.
 */
#ifndef HMK_CTL_H
#define HMK_CTL_H

#include <stdbool.h>
#include <stddef.h>

#define HMK_CTL_DEFAULT_SOCKET "/run/hal-microkernel/control"
#define HMK_CTL_REQUEST_MAX 128u   /* request line including '\n' */
#define HMK_CTL_NAME_MAX 63u       /* service name length, without NUL */
#define HMK_CTL_LAST_EXIT_MAX 96u  /* LAST_EXIT length, without NUL */

enum hmk_ctl_verb {
    HMK_CTL_STATUS = 1,
    HMK_CTL_START,
    HMK_CTL_STOP,
    HMK_CTL_RESTART,
    HMK_CTL_CHANNEL,
    HMK_CTL_STATS,
};

/* Service names: 1..HMK_CTL_NAME_MAX characters of [A-Za-z0-9_.@-]. The same
 * rule holds for [service NAME] sections, so every configured name can be
 * sent in a request. */
static inline bool hmk_ctl_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > HMK_CTL_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '@' || c == '-'))
            return false;
    }
    return true;
}

static inline const char *hmk_ctl_verb_name(enum hmk_ctl_verb v)
{
    switch (v) {
    case HMK_CTL_STATUS: return "status";
    case HMK_CTL_START: return "start";
    case HMK_CTL_STOP: return "stop";
    case HMK_CTL_RESTART: return "restart";
    case HMK_CTL_CHANNEL: return "channel";
    case HMK_CTL_STATS: return "stats";
    }
    return "?";
}

#endif /* HMK_CTL_H */
