/*
 * cfg.h - the daemon's configuration file ([daemon] and [service NAME]
 * sections, parsed with inih). See configs/hal-microkernel.ini and
 * hal-microkernel(8) for every key.
 *
 * Contract: cfg_load() either returns a complete, checked configuration
 * (every value parsed, users and groups resolved, every after= target
 * known, no dependency cycle, services in start order) or an error with the
 * line number and one message; nothing is half-applied. The module never
 * logs.
 */
#ifndef HMK_CFG_H
#define HMK_CFG_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "svc_sched.h"

enum cfg_restart { CFG_RESTART_NO, CFG_RESTART_ON_FAILURE, CFG_RESTART_ALWAYS };
enum cfg_ready { CFG_READY_NONE, CFG_READY_FD };

#define CFG_RLIM_UNSET ((uint64_t)-2) /* distinct from RLIM_INFINITY */

struct cfg_service {
    char *name;
    int line;                 /* line of the [service NAME] header */
    char **argv;              /* NULL-terminated */
    enum cfg_restart restart;
    uint64_t backoff_initial_ms;
    double backoff_factor;
    uint64_t backoff_max_ms;
    unsigned crash_limit;     /* 0 = no limit */
    uint64_t crash_window_ms;
    char **after;             /* NULL-terminated names */
    int *after_line;
    bool has_user, has_group;
    char *user;               /* for initgroups */
    uid_t uid;
    gid_t gid;
    bool has_nice;
    int nice;
    bool has_affinity;
    cpu_set_t affinity;
    struct sched_spec sched;  /* sched = (SCHED_CLASS_UNSET: not given) */
    int sched_line;
    uint64_t limit_as, limit_cpu, limit_nofile; /* CFG_RLIM_UNSET or value/RLIM_INFINITY */
    uint64_t limit_rttime;    /* RLIMIT_RTTIME in us: CFG_RLIM_UNSET or value */
    uint64_t deadline_ns;     /* deadline = its reactions' budget, 0: none */
    uint64_t stop_timeout_ms;
    char **env;               /* NULL-terminated "K=V" */
    bool has_writes;          /* writes = given: HMK_WRITE_PINS is set */
    char **writes;            /* NULL-terminated pin names; NULL/empty = none */
    bool has_writer_gid;      /* [daemon] writer-group: granted services get it, */
    gid_t writer_gid;         /* the others never do (even if /etc/group says so) */
    bool has_queues;          /* the config has queues: HMK_QUEUES_* are set */
    char **q_send, **q_recv;  /* queues it may send to / receive from */
    enum cfg_ready ready;
    uint64_t ready_timeout_ms; /* ready = fd: restarted if not ready by then; 0 (default): wait */
    /* seen-key bits, for "duplicate key" checks */
    unsigned seen;
};

struct cfg_daemon {
    char *region;
    uint64_t heartbeat_ms;
    int log_level;
    char *control_socket;     /* "" = no control socket */
    mode_t control_mode;
    bool has_control_group;
    gid_t control_gid;
    bool has_writer_group;    /* writer-group: the bridge's writers= group */
    gid_t writer_gid;
    bool pin_monitor;
    unsigned pin_monitor_rate; /* lines per second */
    /* CPUs LinuxCNC's realtime threads run on: rt-cpus = LIST, else the
     * kernel's isolated CPUs (isolcpus=) when there are any. A service in a
     * realtime class may not run there. */
    bool has_rt_cpus;
    bool rt_cpus_isolated;    /* every rt CPU is isolated (no load balancing) */
    cpu_set_t rt_cpus;
    unsigned seen;
};

/* [queue NAME]: a message queue the daemon creates (libhalmk
 * hmk_queue_create) and grants to services. */
struct cfg_queue {
    char *name;
    int line;
    unsigned depth, size;     /* messages, bytes per message */
    char **senders, **receivers; /* service names */
    unsigned seen;
};

struct cfg {
    struct cfg_daemon daemon;
    struct cfg_service **svc; /* in start order: every after= target first */
    unsigned n_svc;
    struct cfg_queue **q;
    unsigned n_q;
};

struct cfg_error {
    int line;        /* 0 when not tied to a line */
    char msg[256];
};

/* Parse `path`. On failure returns -EINVAL (bad content, *err filled) or the
 * -errno of opening/reading the file (err->line = 0, err->msg empty). */
int cfg_load(const char *path, struct cfg **out, struct cfg_error *err);
/* The same from a string (for tests). */
int cfg_load_string(const char *text, struct cfg **out, struct cfg_error *err);
void cfg_free(struct cfg *c);
void cfg_service_free(struct cfg_service *s);

/* true when a and b would run the same process the same way */
bool cfg_service_equal(const struct cfg_service *a, const struct cfg_service *b);
struct cfg_service *cfg_find(const struct cfg *c, const char *name);

/* --- value parsers, exported for the unit tests --- */
/* Shell-like split: words separated by blanks; '...' literal; "..." with
 * \" \\ \$ \` escapes; a backslash outside quotes escapes the next
 * character. No expansion of any kind. -EINVAL on unterminated quote or
 * trailing backslash, -ENODATA when there is no word. */
int cfg_split_argv(const char *s, char ***argv_out);
void cfg_strv_free(char **v);
/* A decimal with a unit: DIGITS[.DIGITS] then one of units[] by name
 * (name "" allows a bare number); *out = the number times the unit's mult,
 * rounded to the nearest integer, exactly (decimal steps, no binary
 * fractions: "0.1s" is 100 ms). Fractions past nine digits are dropped.
 * -EINVAL for anything else (signs, blanks, exponents, hex, "inf"), -ERANGE
 * above max. Not strtod: also keeps libc's float parser and its tables
 * out of the long-lived daemon (issue 19). */
struct cfg_unit {
    const char *name;
    uint64_t mult;
};
int cfg_parse_scaled(const char *s, const struct cfg_unit *units, size_t n_units, uint64_t max, uint64_t *out);
/* "250ms", "2s", "1.5s", "2min", "1h"; a bare number means seconds. */
int cfg_parse_duration_ms(const char *s, uint64_t *out);
/* "3 in 60s" or "none" (-> 0, 0) */
int cfg_parse_crash_limit(const char *s, unsigned *n, uint64_t *window_ms);
/* "2-3,5" */
int cfg_parse_cpu_list(const char *s, cpu_set_t *out);
/* bytes with optional K/M/G/T (powers of 1024) or "infinity" */
int cfg_parse_size(const char *s, uint64_t *out);
int cfg_parse_bool(const char *s, bool *out);

/* x >= 0 to the nearest integer (what llround does, without libm: the
 * daemon links no maths library). Callers check the range first. */
static inline uint64_t cfg_round_u64(double x)
{
    return (uint64_t)(x + 0.5);
}

#endif
