/*
 * hmk_svc_abi.h - what the hal-microkernel daemon hands a service it starts:
 * environment variables, descriptor numbers and the telemetry block.
 *
 * Shared by the daemon (daemon/svc.c sets them, daemon/cfg_keys.c keeps `env =`
 * from overriding them) and libhalmk (which reads them). A name or number
 * written anywhere else is a bug.
 *
 * Descriptors (open only when the variable naming them is set):
 *   3 HMK_READY_FD       write "READY=1\n" once up (ready = fd)
 *   4 HMK_CHANNEL_FD     the service's write channel (writes =)
 *   5 HMK_TELEMETRY_FD   its reaction-time block (struct hmk_telemetry)
 * Variables without a descriptor:
 *   HAL_MICROKERNEL_REGION  the region's name
 *   HMK_WRITE_PINS          comma-separated pins it may write
 *   HMK_CONTROL_SOCKET      where to ask for its channel again (re-attach)
 *   HMK_QUEUES_SEND / _RECV comma-separated queues, per direction
 */
#ifndef HMK_SVC_ABI_H
#define HMK_SVC_ABI_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define HMK_ENV_REGION "HAL_MICROKERNEL_REGION"
#define HMK_ENV_READY_FD "HMK_READY_FD"
#define HMK_ENV_CHANNEL_FD "HMK_CHANNEL_FD"
#define HMK_ENV_TELEMETRY_FD "HMK_TELEMETRY_FD"
#define HMK_ENV_WRITE_PINS "HMK_WRITE_PINS"
#define HMK_ENV_CONTROL_SOCKET "HMK_CONTROL_SOCKET"
#define HMK_ENV_QUEUES_SEND "HMK_QUEUES_SEND"
#define HMK_ENV_QUEUES_RECV "HMK_QUEUES_RECV"

#define HMK_SVC_READY_FD 3
#define HMK_SVC_CHANNEL_FD 4
#define HMK_SVC_TELEMETRY_FD 5

/* true when the "NAME=VALUE" entry sets a variable the daemon sets itself
 * (a service's `env =` may not) */
static inline bool hmk_env_reserved(const char *kv)
{
    static const char *const names[] = {
        HMK_ENV_REGION, HMK_ENV_READY_FD, HMK_ENV_CHANNEL_FD, HMK_ENV_TELEMETRY_FD,
        HMK_ENV_WRITE_PINS, HMK_ENV_CONTROL_SOCKET, HMK_ENV_QUEUES_SEND, HMK_ENV_QUEUES_RECV,
    };
    size_t klen = strcspn(kv, "=");

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == klen && !memcmp(kv, names[i], klen))
            return true;
    return false;
}

/*
 * The telemetry block: how fast a service reacts to HAL.
 *
 * A reaction is the time from the bridge's CLOCK_MONOTONIC stamp of the
 * servo cycle that carried a change to the moment the service committed
 * what it did about it (or its handler returned, when it writes nothing).
 * libhalmk's service framework records one per change it handles; any
 * other client may record its own with hmk_reaction().
 *
 * The daemon makes one block per service (a sealed memfd: its size cannot
 * change, so the daemon's mapping can never fault), writes magic, version
 * and deadline_ns, and keeps it across the service's restarts. The service
 * maps it read-write and adds to the counters with relaxed atomics; the
 * daemon only reads them, as untrusted numbers (a service that writes
 * garbage fools only its own statistics). No lock is ever taken on it.
 */
#define HMK_TELEMETRY_MAGIC 0x4d4c4554u /* "TELM" */
#define HMK_TELEMETRY_VERSION 1u
#define HMK_TELEMETRY_BUCKETS 40u /* bucket k: [2^k, 2^(k+1)) ns; k = 0 also 0 ns; the last open-ended */
#define HMK_TELEMETRY_SIZE 4096u

struct hmk_telemetry {
    /* the daemon's, set before the service starts */
    uint32_t magic;
    uint32_t version;
    _Atomic uint64_t deadline_ns; /* 0: none; changes on a reload */
    /* the service's */
    _Atomic uint64_t count;       /* reactions recorded */
    _Atomic uint64_t misses;      /* of them, longer than deadline_ns */
    _Atomic uint64_t max_ns;
    _Atomic uint64_t sum_ns;
    _Atomic uint64_t hist[HMK_TELEMETRY_BUCKETS];
};

_Static_assert(sizeof(struct hmk_telemetry) <= HMK_TELEMETRY_SIZE, "telemetry block too big");

/* the histogram bucket of a reaction of ns nanoseconds */
static inline unsigned hmk_telemetry_bucket(uint64_t ns)
{
    unsigned k = ns ? 63u - (unsigned)__builtin_clzll(ns) : 0u;
    return k < HMK_TELEMETRY_BUCKETS ? k : HMK_TELEMETRY_BUCKETS - 1;
}

#endif
