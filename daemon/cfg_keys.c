/*
 * cfg_keys.c - every key of the configuration: the table keys[] gives, for
 * each, its section, its parser, the field it fills, whether it may repeat
 * and the range and words of its value; cfg.c looks a line's key up here
 * (cfg_key_find) and runs the parser. hal-microkernel(8) and
 * configs/hal-microkernel.ini describe the keys. See cfg_priv.h.
 *
 * A shared parser stores into the field at the entry's offset, whose type
 * is the parser's (p_duration a uint64_t, p_unsigned an unsigned, ...); a
 * parser of one key only (p_user, p_after, ...) uses its struct by name.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cfg_priv.h"
#include "hmk_ctl.h"
#include "hmk_region.h"
#include "hmk_svc_abi.h"
#include "log.h"

/* flag 0 means none: no section's struct starts with a flag */
_Static_assert(offsetof(struct cfg_daemon, region) == 0 && offsetof(struct cfg_service, name) == 0 &&
               offsetof(struct cfg_queue, name) == 0, "a flag at offset 0");

static void *field(const struct key_def *k, void *obj)
{
    return (char *)obj + k->off;
}

static void set_flag(const struct key_def *k, void *obj)
{
    if (k->flag)
        *(bool *)((char *)obj + k->flag) = true;
}

/* true if val is the key's word, its value then stored (uint64_t fields) */
static bool is_word(const struct key_def *k, void *obj, const char *val)
{
    if (!k->word || strcmp(val, k->word))
        return false;
    *(uint64_t *)field(k, obj) = k->word_val;
    return true;
}

static void bad_value(struct pstate *ps, const struct key_def *k, const char *val)
{
    if (k->hint)
        cfg_perr(ps, ps->line, "invalid %s '%s' (%s)", k->name, val, k->hint);
    else
        cfg_perr(ps, ps->line, "invalid %s '%s'", k->name, val);
}

static void set_string(struct pstate *ps, char **s, const char *val)
{
    free(*s);
    *s = strdup(val);
    if (!*s)
        cfg_perr(ps, ps->line, "out of memory");
}

static void p_region(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    if (!hmk_ctl_name_valid(val, strlen(val)))
        cfg_perr(ps, ps->line, "invalid region name '%s'", val);
    else
        set_string(ps, field(k, obj), val);
}

/* an absolute path (sun_path holds 108 bytes), or none: "" */
static void p_socket(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    if (strcmp(val, "none") && (val[0] != '/' || strlen(val) >= 108))
        bad_value(ps, k, val);
    else
        set_string(ps, field(k, obj), strcmp(val, "none") ? val : "");
}

static void p_duration(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    uint64_t *ms = field(k, obj);

    if (is_word(k, obj, val))
        return;
    if (cfg_parse_duration_ms(val, ms) < 0 || *ms < (uint64_t)k->min || *ms > (uint64_t)k->max)
        cfg_perr(ps, ps->line, "invalid %s '%s' (expected a duration like 500ms, 2s, 1min; "
                 "%llu ms to %llu ms)", k->name, val, (unsigned long long)k->min, (unsigned long long)k->max);
}

/* a duration in ms, kept in us: the kernel's RLIMIT_RTTIME unit */
static void p_rttime(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    uint64_t ms;

    if (is_word(k, obj, val))
        return;
    if (cfg_parse_duration_ms(val, &ms) < 0 || ms < (uint64_t)k->min || ms > (uint64_t)k->max)
        bad_value(ps, k, val);
    else
        *(uint64_t *)field(k, obj) = ms * 1000;
}

/* a decimal number in k's range into *v; else the line's error */
static bool number(struct pstate *ps, const struct key_def *k, const char *val, unsigned long long *v)
{
    if (cfg_parse_uint(val, (unsigned long long)k->max, v) < 0 || *v < (unsigned long long)k->min) {
        bad_value(ps, k, val);
        return false;
    }
    return true;
}

static void p_u64(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    unsigned long long v;

    if (!is_word(k, obj, val) && number(ps, k, val, &v))
        *(uint64_t *)field(k, obj) = v;
}

static void p_unsigned(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    unsigned long long v;

    if (number(ps, k, val, &v))
        *(unsigned *)field(k, obj) = (unsigned)v;
}

/* a queue's depth or size: 1..max, with K, M suffixes; hint is the unit */
static void p_count(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    uint64_t v;

    if (cfg_parse_size(val, &v) < 0 || v < (uint64_t)k->min || v > (uint64_t)k->max)
        cfg_perr(ps, ps->line, "invalid %s '%s' (%lld..%lld %s)", k->name, val, k->min, k->max, k->hint);
    else
        *(unsigned *)field(k, obj) = (unsigned)v;
}

static void p_int(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(val, &end, 10);
    if (!*val || *end || errno || n < k->min || n > k->max)
        bad_value(ps, k, val);
    set_flag(k, obj);
    *(int *)field(k, obj) = (int)n;
}

static void p_factor(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    static const struct cfg_unit plain[] = { { "", 1000000000 } }; /* in 1e-9ths */
    uint64_t v;

    if (cfg_parse_scaled(val, plain, 1, (uint64_t)k->max * 1000000000, &v) < 0 ||
        v < (uint64_t)k->min * 1000000000)
        bad_value(ps, k, val);
    else
        *(double *)field(k, obj) = (double)v / 1e9;
}

static void p_size(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    if (cfg_parse_size(val, field(k, obj)) < 0)
        bad_value(ps, k, val);
}

static void p_bool(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    if (cfg_parse_bool(val, field(k, obj)) < 0)
        bad_value(ps, k, val);
}

static void p_cpu_list(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    if (cfg_parse_cpu_list(val, field(k, obj)) < 0)
        bad_value(ps, k, val);
    set_flag(k, obj);
}

/* rt-cpus = none: no CPUs, and not the kernel's isolated ones either */
static void p_rt_cpus(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    if (strcmp(val, "none"))
        p_cpu_list(ps, k, obj, val);
}

static void p_log_level(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    int l = log_level_parse(val);

    if (l < 0)
        bad_value(ps, k, val);
    else
        *(int *)field(k, obj) = l;
}

static void p_mode(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    char *end;
    unsigned long m = strtoul(val, &end, 8);

    if (!*val || *end || m > (unsigned long)k->max || val[0] == '-')
        bad_value(ps, k, val);
    else
        *(mode_t *)field(k, obj) = (mode_t)m;
}

static void p_group(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    struct group *g = getgrnam(val);

    if (!g) {
        cfg_perr(ps, ps->line, "unknown group '%s'", val);
        return;
    }
    *(gid_t *)field(k, obj) = g->gr_gid;
    set_flag(k, obj);
}

static void p_user(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    struct cfg_service *s = obj;
    struct passwd *pw = getpwnam(val);

    (void)k;
    if (!pw) {
        cfg_perr(ps, ps->line, "unknown user '%s'", val);
        return;
    }
    s->has_user = true;
    s->uid = pw->pw_uid;
    if (!s->has_group) /* group = wins, before or after */
        s->gid = pw->pw_gid;
    set_string(ps, &s->user, val);
}

static void p_exec(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    int ret = cfg_split_argv(val, field(k, obj));

    if (ret == -ENODATA)
        cfg_perr(ps, ps->line, "empty exec");
    else if (ret == -EINVAL)
        bad_value(ps, k, val);
    else if (ret < 0)
        cfg_perr(ps, ps->line, "out of memory");
}

/* An enum field (stored as int) whose values are named by k->choices. */
_Static_assert(sizeof(enum cfg_restart) == sizeof(int) && sizeof(enum cfg_ready) == sizeof(int),
               "p_choice stores an enum through an int");
static void p_choice(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    for (unsigned i = 0; i < k->n_choices; i++)
        if (k->choices[i] && !strcmp(val, k->choices[i])) {
            *(int *)(void *)((char *)obj + k->off) = (int)i;
            return;
        }
    bad_value(ps, k, val);
}

static const char *const restart_words[] = {
    [CFG_RESTART_NO] = "no", [CFG_RESTART_ON_FAILURE] = "on-failure", [CFG_RESTART_ALWAYS] = "always",
};
static const char *const ready_words[] = { [CFG_READY_NONE] = "none", [CFG_READY_FD] = "fd" };
#define CHOICES(w) .parse = p_choice, .choices = (w), .n_choices = sizeof(w) / sizeof((w)[0])

static void p_crash_limit(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    struct cfg_service *s = obj;

    if (cfg_parse_crash_limit(val, &s->crash_limit, &s->crash_window_ms) < 0)
        bad_value(ps, k, val);
}

static void p_sched(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    struct cfg_service *s = obj;
    int r;

    (void)k;
    s->sched_line = ps->line;
    r = sched_parse(val, &s->sched);
    if (r == -ERANGE)
        cfg_perr(ps, ps->line, "invalid sched '%s' (priority 1 to 99; deadline needs "
                 "runtime <= deadline <= period, each 1ns to 100s)", val);
    else if (r < 0)
        cfg_perr(ps, ps->line, "invalid sched '%s' (expected other, batch, idle, fifo:PRIO, "
                 "rr:PRIO or deadline:RUNTIME/DEADLINE/PERIOD with units, e.g. 2ms/10ms/10ms)", val);
}

static void p_ns(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    if (!is_word(k, obj, val) && sched_parse_ns(val, field(k, obj)) < 0)
        bad_value(ps, k, val);
}

/* Each name of a blank- or comma-separated list ("a, b" and "a b" both
 * work) to take(), stopping at the first error; a name that is not a valid
 * control name or is longer than max_len is "invalid WHAT name 'x' in KEY". */
static void each_name(struct pstate *ps, const struct key_def *k, void *obj, const char *val, const char *what,
                      size_t max_len, void (*take)(struct pstate *ps, void *obj, const char *name))
{
    char **words = NULL;

    if (cfg_split_argv(val, &words) < 0) {
        bad_value(ps, k, val);
        return;
    }
    for (char **w = words; *w && !ps->failed; w++) {
        char *tok, *save = NULL;
        for (tok = strtok_r(*w, ",", &save); tok && !ps->failed; tok = strtok_r(NULL, ",", &save)) {
            if (!hmk_ctl_name_valid(tok, strlen(tok)) || strlen(tok) > max_len)
                cfg_perr(ps, ps->line, "invalid %s name '%s' in %s", what, tok, k->name);
            else
                take(ps, obj, tok);
        }
    }
    cfg_strv_free(words);
}

static void take_after(struct pstate *ps, void *obj, const char *name)
{
    struct cfg_service *s = obj;
    size_t n = cfg_strv_len(s->after);
    int *nl = realloc(s->after_line, (n + 1) * sizeof(*nl));
    char *d;

    if (nl) {
        s->after_line = nl;
        nl[n] = ps->line;
    }
    d = nl ? strdup(name) : NULL;
    if (!d || cfg_strv_push(&s->after, d) < 0)
        cfg_perr(ps, ps->line, "out of memory");
}

/* more service names */
static void p_after(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    each_name(ps, k, obj, val, "service", SIZE_MAX, take_after);
}

/* one more NAME=VALUE */
static void p_env(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    struct cfg_service *s = obj;
    const char *eq = strchr(val, '=');
    char *d;

    if (!eq || eq == val) {
        bad_value(ps, k, val);
        return;
    }
    for (const char *p = val; p < eq; p++) {
        if (!(isalnum((unsigned char)*p) || *p == '_') || isdigit((unsigned char)val[0])) {
            cfg_perr(ps, ps->line, "invalid environment variable name in '%s'", val);
            return;
        }
    }
    if (hmk_env_reserved(val)) {
        cfg_perr(ps, ps->line, "env '%.*s' is set by the daemon", (int)(eq - val), val);
        return;
    }
    for (char **e = s->env; e && *e; e++) {
        if (!strncmp(*e, val, (size_t)(eq - val + 1))) {
            cfg_perr(ps, ps->line, "duplicate env '%.*s'", (int)(eq - val), val);
            return;
        }
    }
    d = strdup(val);
    if (!d || cfg_strv_push(&s->env, d) < 0)
        cfg_perr(ps, ps->line, "out of memory");
}

static void take_pin(struct pstate *ps, void *obj, const char *name)
{
    char ***pins = obj;
    char *d = strdup(name);

    if (!d || cfg_strv_push(pins, d) < 0)
        cfg_perr(ps, ps->line, "out of memory");
}

/* pin names, or none */
static void p_writes(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    set_flag(k, obj);
    if (strcmp(val, "none") != 0) /* region pin names are HAL names without the prefix */
        each_name(ps, k, field(k, obj), val, "pin", HMK_NAME_MAX - 1, take_pin);
}

/* more blank-separated names */
static void p_words(struct pstate *ps, const struct key_def *k, void *obj, const char *val)
{
    if (cfg_strv_append_words(field(k, obj), val) < 0)
        bad_value(ps, k, val);
}

#define DAEMON_F(f) offsetof(struct cfg_daemon, f)
#define SERVICE_F(f) offsetof(struct cfg_service, f)
#define QUEUE_F(f) offsetof(struct cfg_queue, f)

/* Every key: hal-microkernel(8) and configs/hal-microkernel.ini describe them. */
static const struct key_def keys[] = {
    { .name = "region", .sec = SEC_DAEMON, .dup = KEY_ONCE,
      .parse = p_region, .off = DAEMON_F(region) },
    { .name = "heartbeat-period", .sec = SEC_DAEMON, .dup = KEY_ONCE,
      .parse = p_duration, .off = DAEMON_F(heartbeat_ms), .min = 1, .max = 60000 },
    { .name = "log-level", .sec = SEC_DAEMON, .dup = KEY_ONCE,
      .parse = p_log_level, .off = DAEMON_F(log_level), .hint = "expected err, warning, info or debug" },
    { .name = "control-socket", .sec = SEC_DAEMON, .dup = KEY_ONCE,
      .parse = p_socket, .off = DAEMON_F(control_socket), .hint = "absolute path under 108 bytes, or none" },
    { .name = "control-mode", .sec = SEC_DAEMON, .dup = KEY_ONCE,
      .parse = p_mode, .off = DAEMON_F(control_mode), .max = 0777, .hint = "octal, e.g. 0660" },
    { .name = "control-group", .sec = SEC_DAEMON, .dup = KEY_ONCE,
      .parse = p_group, .off = DAEMON_F(control_gid), .flag = DAEMON_F(has_control_group) },
    { .name = "writer-group", .sec = SEC_DAEMON, .dup = KEY_ONCE,
      .parse = p_group, .off = DAEMON_F(writer_gid), .flag = DAEMON_F(has_writer_group) },
    { .name = "pin-monitor", .sec = SEC_DAEMON, .dup = KEY_ONCE,
      .parse = p_bool, .off = DAEMON_F(pin_monitor), .hint = "expected yes or no" },
    { .name = "pin-monitor-rate", .sec = SEC_DAEMON, .dup = KEY_ONCE,
      .parse = p_unsigned, .off = DAEMON_F(pin_monitor_rate), .min = 1, .max = 10000,
      .hint = "lines per second, 1 to 10000" },
    { .name = "rt-cpus", .sec = SEC_DAEMON, .dup = KEY_ONCE,
      .parse = p_rt_cpus, .off = DAEMON_F(rt_cpus), .flag = DAEMON_F(has_rt_cpus),
      .hint = "a CPU list like 1-3, or none" },

    { .name = "exec", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_exec, .off = SERVICE_F(argv), .hint = "unterminated quote or trailing backslash" },
    { .name = "restart", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      CHOICES(restart_words), .off = SERVICE_F(restart), .hint = "expected always, on-failure or no" },
    { .name = "backoff-initial", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_duration, .off = SERVICE_F(backoff_initial_ms), .min = 0, .max = 3600000 },
    { .name = "backoff-factor", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_factor, .off = SERVICE_F(backoff_factor), .min = 1, .max = 100,
      .hint = "a number from 1 to 100" },
    { .name = "backoff-max", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_duration, .off = SERVICE_F(backoff_max_ms), .min = 0, .max = 3600000 },
    { .name = "crash-limit", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_crash_limit, .off = SERVICE_F(crash_limit),
      .hint = "expected 'N in DURATION', e.g. '3 in 60s', or none" },
    { .name = "after", .sec = SEC_SERVICE, .dup = KEY_REPEAT,
      .parse = p_after, .off = SERVICE_F(after) },
    { .name = "user", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_user, .off = SERVICE_F(user) },
    { .name = "group", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_group, .off = SERVICE_F(gid), .flag = SERVICE_F(has_group) },
    { .name = "nice", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_int, .off = SERVICE_F(nice), .flag = SERVICE_F(has_nice), .min = -20, .max = 19,
      .hint = "an integer from -20 to 19" },
    { .name = "cpu-affinity", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_cpu_list, .off = SERVICE_F(affinity), .flag = SERVICE_F(has_affinity),
      .hint = "a CPU list like 2-3,5" },
    { .name = "sched", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_sched, .off = SERVICE_F(sched) },
    { .name = "deadline", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_ns, .off = SERVICE_F(deadline_ns), .word = "none", .word_val = 0,
      .hint = "a reaction time with a unit, 1ns to 100s, e.g. 5ms, or none" },
    { .name = "limit-rttime", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_rttime, .off = SERVICE_F(limit_rttime), .min = 1, .max = 3600000,
      .word = "infinity", .word_val = RLIM_INFINITY,
      .hint = "CPU time without blocking, 1ms to 1h, or infinity" },
    { .name = "limit-as", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_size, .off = SERVICE_F(limit_as), .hint = "bytes with optional K, M, G, T, or infinity" },
    { .name = "limit-cpu", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_u64, .off = SERVICE_F(limit_cpu), .min = 0, .max = UINT32_MAX,
      .word = "infinity", .word_val = RLIM_INFINITY, .hint = "CPU seconds, or infinity" },
    { .name = "limit-nofile", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_u64, .off = SERVICE_F(limit_nofile), .min = 3, .max = 1 << 30,
      .word = "infinity", .word_val = RLIM_INFINITY, .hint = "a number of files, at least 3, or infinity" },
    { .name = "stop-timeout", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_duration, .off = SERVICE_F(stop_timeout_ms), .min = 1, .max = 3600000 },
    { .name = "env", .sec = SEC_SERVICE, .dup = KEY_REPEAT,
      .parse = p_env, .off = SERVICE_F(env), .hint = "expected NAME=VALUE" },
    { .name = "writes", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_writes, .off = SERVICE_F(writes), .flag = SERVICE_F(has_writes) },
    { .name = "ready", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      CHOICES(ready_words), .off = SERVICE_F(ready), .hint = "expected fd or none" },
    { .name = "ready-timeout", .sec = SEC_SERVICE, .dup = KEY_ONCE,
      .parse = p_duration, .off = SERVICE_F(ready_timeout_ms), .min = 1, .max = 3600000,
      .word = "none", .word_val = 0 },

    { .name = "depth", .sec = SEC_QUEUE, .dup = KEY_ONCE,
      .parse = p_count, .off = QUEUE_F(depth), .min = 1, .max = 1048576, .hint = "messages" },
    { .name = "size", .sec = SEC_QUEUE, .dup = KEY_ONCE,
      .parse = p_count, .off = QUEUE_F(size), .min = 1, .max = 65536, .hint = "bytes" },
    { .name = "senders", .sec = SEC_QUEUE, .dup = KEY_REPEAT,
      .parse = p_words, .off = QUEUE_F(senders) },
    { .name = "receivers", .sec = SEC_QUEUE, .dup = KEY_REPEAT,
      .parse = p_words, .off = QUEUE_F(receivers) },
};

/* The bit is the key's place among its section's keys: at most 32 (service
 * has 24). */
const struct key_def *cfg_key_find(enum cfg_section sec, const char *name, unsigned *bit)
{
    unsigned n = 0;

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (keys[i].sec != sec)
            continue;
        if (!strcmp(keys[i].name, name)) {
            *bit = 1u << n;
            return &keys[i];
        }
        n++;
    }
    return NULL;
}
