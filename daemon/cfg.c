/*
 * cfg.c - configuration parsing, see cfg.h.
 *
 * inih calls our handler without a line number, and does not report empty
 * sections. So we feed it through our own reader (ini_parse_stream): the
 * reader counts lines (the handler runs for the line just read) and checks
 * section headers itself, so that "[bogus]" with no keys is still an error.
 */
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmk_ctl.h"
#include "hmk_svc_abi.h"
#include "log.h"

#define CFG_DEFAULT_REGION "hal-microkernel"

enum {
    K_EXEC = 1u << 0, K_RESTART = 1u << 1, K_BINIT = 1u << 2, K_BFACT = 1u << 3,
    K_BMAX = 1u << 4, K_CRASH = 1u << 5, K_USER = 1u << 6, K_GROUP = 1u << 7,
    K_NICE = 1u << 8, K_AFF = 1u << 9, K_LAS = 1u << 10, K_LCPU = 1u << 11,
    K_LNOFILE = 1u << 12, K_STOPTO = 1u << 13, K_READY = 1u << 14, K_WRITES = 1u << 15,
    K_SCHED = 1u << 16, K_LRTTIME = 1u << 17, K_DEADLINE = 1u << 18, K_READYTO = 1u << 19,
};
enum {
    D_REGION = 1u << 0, D_HB = 1u << 1, D_LOG = 1u << 2, D_SOCK = 1u << 3, D_MODE = 1u << 4,
    D_GROUP = 1u << 5, D_PINMON = 1u << 6, D_PINRATE = 1u << 7, D_WGROUP = 1u << 8,
    D_RTCPUS = 1u << 9,
};

struct src {
    FILE *f;          /* either a file ... */
    const char *str;  /* ... or a string */
};

struct pstate {
    struct cfg *c;
    struct cfg_error *err;
    struct src src;
    int line;
    bool failed;
    int in_section;   /* 0 none, 1 daemon, 2 service, 3 queue */
    struct cfg_service *cur;
    struct cfg_queue *curq;
    bool seen_daemon;
};

static void perr(struct pstate *ps, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void perr(struct pstate *ps, int line, const char *fmt, ...)
{
    va_list ap;

    if (ps->failed)
        return; /* the first error is the one reported */
    ps->failed = true;
    ps->err->line = line;
    va_start(ap, fmt);
    vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
    va_end(ap);
}

void cfg_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static size_t strv_len(char *const *v)
{
    size_t n = 0;

    while (v && v[n])
        n++;
    return n;
}

/* appends (takes ownership of s); -ENOMEM leaves v intact and frees s */
static int strv_push(char ***v, char *s)
{
    size_t n = strv_len(*v);
    char **nv = realloc(*v, (n + 2) * sizeof(*nv));

    if (!nv) {
        free(s);
        return -ENOMEM;
    }
    nv[n] = s;
    nv[n + 1] = NULL;
    *v = nv;
    return 0;
}

static bool strv_equal(char *const *a, char *const *b)
{
    size_t n = strv_len(a);

    if (n != strv_len(b))
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i], b[i]))
            return false;
    return true;
}

int cfg_split_argv(const char *s, char ***argv_out)
{
    char **argv = NULL;
    char *word = NULL;
    size_t len = 0;
    int ret;

    word = malloc(strlen(s) + 1);
    if (!word)
        return -ENOMEM;
    for (;;) {
        bool in_word = false;

        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        len = 0;
        while (*s && *s != ' ' && *s != '\t') {
            in_word = true;
            if (*s == '\'') {
                const char *e = strchr(s + 1, '\'');
                if (!e) {
                    ret = -EINVAL;
                    goto fail;
                }
                memcpy(word + len, s + 1, (size_t)(e - s - 1));
                len += (size_t)(e - s - 1);
                s = e + 1;
            } else if (*s == '"') {
                s++;
                while (*s && *s != '"') {
                    if (*s == '\\' && s[1] && strchr("\"\\$`", s[1]))
                        s++;
                    word[len++] = *s++;
                }
                if (*s != '"') {
                    ret = -EINVAL;
                    goto fail;
                }
                s++;
            } else if (*s == '\\') {
                if (!s[1]) {
                    ret = -EINVAL;
                    goto fail;
                }
                word[len++] = s[1];
                s += 2;
            } else {
                word[len++] = *s++;
            }
        }
        if (in_word) {
            char *w = strndup(word, len);
            if (!w || strv_push(&argv, w) < 0) {
                ret = -ENOMEM;
                goto fail;
            }
        }
    }
    if (!argv) {
        ret = -ENODATA;
        goto fail;
    }
    free(word);
    *argv_out = argv;
    return 0;

fail:
    free(word);
    cfg_strv_free(argv);
    return ret;
}

int cfg_parse_duration_ms(const char *s, uint64_t *out)
{
    static const struct { const char *unit; double ms; } units[] = {
        { "", 1000.0 }, { "ms", 1.0 }, { "s", 1000.0 }, { "min", 60000.0 }, { "h", 3600000.0 },
    };
    char *end;
    double v;

    if (!isdigit((unsigned char)*s))
        return -EINVAL; /* no sign, no blanks, no "inf"/"nan" */
    errno = 0;
    v = strtod(s, &end);
    if (errno || !isfinite(v))
        return -EINVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (!strcmp(end, units[i].unit)) {
            double ms = v * units[i].ms;
            if (ms > 1e12) /* > 31 years: surely a typo */
                return -ERANGE;
            if (ms < 0)
                return -EINVAL;
            *out = cfg_round_u64(ms);
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    unsigned long long v;

    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*end)
        return -EINVAL;
    if (errno || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

int cfg_parse_crash_limit(const char *s, unsigned *n, uint64_t *window_ms)
{
    unsigned long long v;
    char buf[64], *sp;
    int ret;

    if (!strcmp(s, "none")) {
        *n = 0;
        *window_ms = 0;
        return 0;
    }
    if (strlen(s) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, s);
    sp = strstr(buf, " in ");
    if (!sp)
        return -EINVAL;
    *sp = '\0';
    ret = parse_uint(buf, 1000, &v);
    if (ret < 0)
        return ret;
    if (v == 0)
        return -ERANGE;
    ret = cfg_parse_duration_ms(sp + 4, window_ms);
    if (ret < 0)
        return ret;
    if (*window_ms == 0)
        return -ERANGE;
    *n = (unsigned)v;
    return 0;
}

int cfg_parse_cpu_list(const char *s, cpu_set_t *out)
{
    CPU_ZERO(out);
    for (;;) {
        unsigned long a, b;
        char *end;

        if (!isdigit((unsigned char)*s))
            return -EINVAL;
        a = strtoul(s, &end, 10);
        b = a;
        if (*end == '-') {
            s = end + 1;
            if (!isdigit((unsigned char)*s))
                return -EINVAL;
            b = strtoul(s, &end, 10);
        }
        if (a > b)
            return -EINVAL;
        if (b >= CPU_SETSIZE)
            return -ERANGE;
        for (unsigned long i = a; i <= b; i++)
            CPU_SET(i, out);
        if (!*end)
            return 0;
        if (*end != ',')
            return -EINVAL;
        s = end + 1;
    }
}

int cfg_parse_size(const char *s, uint64_t *out)
{
    unsigned long long v;
    char *end;
    unsigned shift = 0;

    if (!strcmp(s, "infinity")) {
        *out = RLIM_INFINITY;
        return 0;
    }
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -ERANGE;
    if (*end) {
        const char *u = "KMGT", *p = strchr(u, *end);
        if (!p || end[1])
            return -EINVAL;
        shift = 10u * (unsigned)(p - u + 1);
    }
    if (v > (UINT64_MAX >> 1) >> shift)
        return -ERANGE;
    *out = v << shift;
    return 0;
}

int cfg_parse_bool(const char *s, bool *out)
{
    if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "1"))
        *out = true;
    else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off") || !strcmp(s, "0"))
        *out = false;
    else
        return -EINVAL;
    return 0;
}

void cfg_service_free(struct cfg_service *s)
{
    if (!s)
        return;
    free(s->name);
    cfg_strv_free(s->argv);
    cfg_strv_free(s->after);
    free(s->after_line);
    free(s->user);
    cfg_strv_free(s->env);
    cfg_strv_free(s->writes);
    cfg_strv_free(s->q_send);
    cfg_strv_free(s->q_recv);
    free(s);
}

static void queue_free(struct cfg_queue *q)
{
    if (!q)
        return;
    free(q->name);
    cfg_strv_free(q->senders);
    cfg_strv_free(q->receivers);
    free(q);
}

void cfg_free(struct cfg *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->n_svc; i++)
        cfg_service_free(c->svc[i]);
    free(c->svc);
    for (unsigned i = 0; i < c->n_q; i++)
        queue_free(c->q[i]);
    free(c->q);
    free(c->daemon.region);
    free(c->daemon.control_socket);
    free(c);
}

struct cfg_service *cfg_find(const struct cfg *c, const char *name)
{
    for (unsigned i = 0; i < c->n_svc; i++)
        if (!strcmp(c->svc[i]->name, name))
            return c->svc[i];
    return NULL;
}

bool cfg_service_equal(const struct cfg_service *a, const struct cfg_service *b)
{
    return !strcmp(a->name, b->name) && strv_equal(a->argv, b->argv) && a->restart == b->restart &&
           a->backoff_initial_ms == b->backoff_initial_ms && a->backoff_factor == b->backoff_factor &&
           a->backoff_max_ms == b->backoff_max_ms && a->crash_limit == b->crash_limit &&
           a->crash_window_ms == b->crash_window_ms && strv_equal(a->after, b->after) &&
           a->has_user == b->has_user && a->has_group == b->has_group &&
           (!a->has_user || a->uid == b->uid) && (!(a->has_user || a->has_group) || a->gid == b->gid) &&
           a->has_nice == b->has_nice && (!a->has_nice || a->nice == b->nice) &&
           a->has_affinity == b->has_affinity &&
           (!a->has_affinity || CPU_EQUAL(&a->affinity, &b->affinity)) && a->limit_as == b->limit_as &&
           a->limit_cpu == b->limit_cpu && a->limit_nofile == b->limit_nofile &&
           sched_equal(&a->sched, &b->sched) && a->limit_rttime == b->limit_rttime &&
           a->deadline_ns == b->deadline_ns &&
           a->stop_timeout_ms == b->stop_timeout_ms && strv_equal(a->env, b->env) && a->ready == b->ready &&
           a->ready_timeout_ms == b->ready_timeout_ms &&
           a->has_writes == b->has_writes && strv_equal(a->writes, b->writes) &&
           a->has_writer_gid == b->has_writer_gid &&
           (!a->has_writer_gid || a->writer_gid == b->writer_gid) &&
           a->has_queues == b->has_queues && strv_equal(a->q_send, b->q_send) &&
           strv_equal(a->q_recv, b->q_recv);
}

static struct cfg_service *service_new(const char *name, int line)
{
    struct cfg_service *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->name = strdup(name);
    if (!s->name) {
        free(s);
        return NULL;
    }
    s->line = line;
    s->restart = CFG_RESTART_ON_FAILURE;
    s->backoff_initial_ms = 500;
    s->backoff_factor = 2.0;
    s->backoff_max_ms = 30000;
    s->crash_limit = 5;
    s->crash_window_ms = 60000;
    s->limit_as = s->limit_cpu = s->limit_nofile = s->limit_rttime = CFG_RLIM_UNSET;
    s->stop_timeout_ms = 10000;
    s->ready = CFG_READY_NONE;
    s->ready_timeout_ms = 0; /* a framework service is ready once HAL is up: maybe hours */
    return s;
}

/* Section header check, run by the reader on each raw line. */
static void check_section_line(struct pstate *ps, const char *line)
{
    const char *p = line, *e;
    char name[256];
    size_t n;

    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '[')
        return;
    e = strchr(p, ']');
    if (!e)
        return; /* inih reports "no ']'" itself */
    for (const char *q = e + 1; *q && *q != '\n' && *q != '\r'; q++) {
        if (*q == ';' || *q == '#')
            break;
        if (*q != ' ' && *q != '\t') {
            perr(ps, ps->line, "unexpected text after section header");
            return;
        }
    }
    n = (size_t)(e - p - 1);
    if (n >= sizeof(name)) {
        perr(ps, ps->line, "section name too long");
        return;
    }
    memcpy(name, p + 1, n);
    name[n] = '\0';
    if (!strcmp(name, "daemon")) {
        if (ps->seen_daemon) {
            perr(ps, ps->line, "duplicate section [daemon]");
            return;
        }
        ps->seen_daemon = true;
        ps->in_section = 1;
        ps->cur = NULL;
        return;
    }
    if (!strncmp(name, "service ", 8)) {
        const char *sn = name + 8;
        struct cfg_service *s, **nv;

        if (!hmk_ctl_name_valid(sn, strlen(sn))) {
            perr(ps, ps->line, "invalid service name '%s' (1-%u characters of A-Z a-z 0-9 _ . @ -)", sn,
                 HMK_CTL_NAME_MAX);
            return;
        }
        if (cfg_find(ps->c, sn)) {
            perr(ps, ps->line, "duplicate section [service %s]", sn);
            return;
        }
        s = service_new(sn, ps->line);
        nv = s ? realloc(ps->c->svc, (ps->c->n_svc + 1) * sizeof(*nv)) : NULL;
        if (!nv) {
            cfg_service_free(s);
            perr(ps, ps->line, "out of memory");
            return;
        }
        ps->c->svc = nv;
        nv[ps->c->n_svc++] = s;
        ps->in_section = 2;
        ps->cur = s;
        return;
    }
    if (!strncmp(name, "queue ", 6)) {
        const char *qn = name + 6;
        struct cfg_queue *q, **nv;
        size_t len = strlen(qn);

        if (len == 0 || len > 64 || strspn(qn, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                               "0123456789_-") != len) {
            perr(ps, ps->line, "invalid queue name '%s' (1-64 characters of A-Z a-z 0-9 _ -)", qn);
            return;
        }
        for (unsigned i = 0; i < ps->c->n_q; i++)
            if (!strcmp(ps->c->q[i]->name, qn)) {
                perr(ps, ps->line, "duplicate section [queue %s]", qn);
                return;
            }
        q = calloc(1, sizeof(*q));
        if (q)
            q->name = strdup(qn);
        nv = q && q->name ? realloc(ps->c->q, (ps->c->n_q + 1) * sizeof(*nv)) : NULL;
        if (!nv) {
            queue_free(q);
            perr(ps, ps->line, "out of memory");
            return;
        }
        q->line = ps->line;
        ps->c->q = nv;
        nv[ps->c->n_q++] = q;
        ps->in_section = 3;
        ps->curq = q;
        return;
    }
    perr(ps, ps->line, "unknown section [%s] (expected [daemon], [service NAME] or [queue NAME])",
         name);
}

static char *reader(char *str, int num, void *stream)
{
    struct pstate *ps = stream;
    size_t n = 0;

    if (ps->failed)
        return NULL; /* stop at the first error */
    if (ps->src.f) {
        int ch;
        /* not fgets: its length would stop at a NUL byte, hiding it */
        while (n < (size_t)num - 1 && (ch = getc(ps->src.f)) != EOF) {
            str[n++] = (char)ch;
            if (ch == '\n')
                break;
        }
        if (n == 0)
            return NULL;
        str[n] = '\0';
    } else {
        const char *nl;
        if (!*ps->src.str)
            return NULL;
        nl = strchr(ps->src.str, '\n');
        n = nl ? (size_t)(nl - ps->src.str + 1) : strlen(ps->src.str);
        if (n > (size_t)num - 1)
            n = (size_t)num - 1;
        memcpy(str, ps->src.str, n);
        str[n] = '\0';
        ps->src.str += n;
    }
    ps->line++;
    if (n == (size_t)num - 1 && str[n - 1] != '\n' &&
        (ps->src.f ? !feof(ps->src.f) : *ps->src.str != '\0')) {
        perr(ps, ps->line, "line too long (at most %d characters)", num - 2);
        return NULL;
    }
    if (memchr(str, '\0', n) != NULL && strlen(str) != n) {
        perr(ps, ps->line, "NUL byte in line");
        return NULL;
    }
    check_section_line(ps, str);
    if (ps->failed)
        return NULL;
    return str;
}

/* true (and the error said) if key was seen before in this section;
 * else marks it seen */
static bool dup_key(struct pstate *ps, unsigned *seen, unsigned bit, const char *key)
{
    if (*seen & bit) {
        perr(ps, ps->line, "duplicate key '%s'", key);
        return true;
    }
    *seen |= bit;
    return false;
}

static int parse_duration_key(struct pstate *ps, const char *key, const char *val, uint64_t *out,
                              uint64_t min, uint64_t max)
{
    if (cfg_parse_duration_ms(val, out) < 0 || *out < min || *out > max) {
        perr(ps, ps->line, "invalid %s '%s' (expected a duration like 500ms, 2s, 1min; %llu ms to %llu ms)",
             key, val, (unsigned long long)min, (unsigned long long)max);
        return -EINVAL;
    }
    return 0;
}

/* true and *gid for a known group; else an error on this line. */
static bool lookup_group(struct pstate *ps, const char *name, gid_t *gid)
{
    struct group *g = getgrnam(name);

    if (!g) {
        perr(ps, ps->line, "unknown group '%s'", name);
        return false;
    }
    *gid = g->gr_gid;
    return true;
}

static int daemon_key(struct pstate *ps, const char *key, const char *val)
{
    struct cfg_daemon *d = &ps->c->daemon;

    if (!strcmp(key, "region")) {
        if (dup_key(ps, &d->seen, D_REGION, key))
            return 1;
        if (!hmk_ctl_name_valid(val, strlen(val))) {
            perr(ps, ps->line, "invalid region name '%s'", val);
            return 1;
        }
        free(d->region);
        d->region = strdup(val);
    } else if (!strcmp(key, "heartbeat-period")) {
        if (dup_key(ps, &d->seen, D_HB, key))
            return 1;
        parse_duration_key(ps, key, val, &d->heartbeat_ms, 1, 60000);
    } else if (!strcmp(key, "log-level")) {
        int l = log_level_parse(val);
        if (dup_key(ps, &d->seen, D_LOG, key))
            return 1;
        if (l < 0)
            perr(ps, ps->line, "invalid log-level '%s' (expected err, warning, info or debug)", val);
        else
            d->log_level = l;
    } else if (!strcmp(key, "control-socket")) {
        if (dup_key(ps, &d->seen, D_SOCK, key))
            return 1;
        if (strcmp(val, "none") && (val[0] != '/' || strlen(val) >= 108)) {
            perr(ps, ps->line, "invalid control-socket '%s' (absolute path under 108 bytes, or none)", val);
            return 1;
        }
        free(d->control_socket);
        d->control_socket = strdup(strcmp(val, "none") ? val : "");
    } else if (!strcmp(key, "control-mode")) {
        char *end;
        unsigned long m;
        if (dup_key(ps, &d->seen, D_MODE, key))
            return 1;
        m = strtoul(val, &end, 8);
        if (!*val || *end || m > 0777 || val[0] == '-')
            perr(ps, ps->line, "invalid control-mode '%s' (octal, e.g. 0660)", val);
        else
            d->control_mode = (mode_t)m;
    } else if (!strcmp(key, "control-group")) {
        if (dup_key(ps, &d->seen, D_GROUP, key))
            return 1;
        d->has_control_group = lookup_group(ps, val, &d->control_gid);
    } else if (!strcmp(key, "writer-group")) {
        if (dup_key(ps, &d->seen, D_WGROUP, key))
            return 1;
        d->has_writer_group = lookup_group(ps, val, &d->writer_gid);
    } else if (!strcmp(key, "pin-monitor")) {
        if (dup_key(ps, &d->seen, D_PINMON, key))
            return 1;
        if (cfg_parse_bool(val, &d->pin_monitor) < 0)
            perr(ps, ps->line, "invalid pin-monitor '%s' (expected yes or no)", val);
    } else if (!strcmp(key, "pin-monitor-rate")) {
        unsigned long long v;
        if (dup_key(ps, &d->seen, D_PINRATE, key))
            return 1;
        if (parse_uint(val, 10000, &v) < 0 || v == 0)
            perr(ps, ps->line, "invalid pin-monitor-rate '%s' (lines per second, 1 to 10000)", val);
        else
            d->pin_monitor_rate = (unsigned)v;
    } else if (!strcmp(key, "rt-cpus")) {
        if (dup_key(ps, &d->seen, D_RTCPUS, key))
            return 1;
        if (!strcmp(val, "none"))
            d->has_rt_cpus = false;
        else if (cfg_parse_cpu_list(val, &d->rt_cpus) < 0)
            perr(ps, ps->line, "invalid rt-cpus '%s' (a CPU list like 1-3, or none)", val);
        else
            d->has_rt_cpus = true;
    } else {
        perr(ps, ps->line, "unknown key '%s' in [daemon]", key);
    }
    if (!ps->failed && (!d->region || !d->control_socket))
        perr(ps, ps->line, "out of memory");
    return 1;
}

static int add_after(struct pstate *ps, struct cfg_service *s, const char *val)
{
    char **words = NULL;
    int ret = cfg_split_argv(val, &words);

    if (ret < 0) {
        perr(ps, ps->line, "invalid after '%s'", val);
        return ret;
    }
    for (char **w = words; *w; w++) {
        /* "a, b" and "a b" both work */
        char *tok, *save = NULL;
        for (tok = strtok_r(*w, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            size_t n = strv_len(s->after);
            int *nl;
            char *d;
            if (!hmk_ctl_name_valid(tok, strlen(tok))) {
                perr(ps, ps->line, "invalid service name '%s' in after", tok);
                goto out;
            }
            nl = realloc(s->after_line, (n + 1) * sizeof(*nl));
            if (!nl)
                goto oom;
            s->after_line = nl;
            nl[n] = ps->line;
            d = strdup(tok);
            if (!d || strv_push(&s->after, d) < 0)
                goto oom;
        }
    }
    goto out;
oom:
    perr(ps, ps->line, "out of memory");
out:
    cfg_strv_free(words);
    return 0;
}

static int service_key(struct pstate *ps, struct cfg_service *s, const char *key, const char *val)
{
    int ret;

    if (!strcmp(key, "exec")) {
        if (dup_key(ps, &s->seen, K_EXEC, key))
            return 1;
        ret = cfg_split_argv(val, &s->argv);
        if (ret == -ENODATA)
            perr(ps, ps->line, "empty exec");
        else if (ret == -EINVAL)
            perr(ps, ps->line, "invalid exec '%s' (unterminated quote or trailing backslash)", val);
        else if (ret < 0)
            perr(ps, ps->line, "out of memory");
    } else if (!strcmp(key, "restart")) {
        if (dup_key(ps, &s->seen, K_RESTART, key))
            return 1;
        if (!strcmp(val, "always"))
            s->restart = CFG_RESTART_ALWAYS;
        else if (!strcmp(val, "on-failure"))
            s->restart = CFG_RESTART_ON_FAILURE;
        else if (!strcmp(val, "no"))
            s->restart = CFG_RESTART_NO;
        else
            perr(ps, ps->line, "invalid restart '%s' (expected always, on-failure or no)", val);
    } else if (!strcmp(key, "backoff-initial")) {
        if (dup_key(ps, &s->seen, K_BINIT, key))
            return 1;
        parse_duration_key(ps, key, val, &s->backoff_initial_ms, 0, 3600000);
    } else if (!strcmp(key, "backoff-factor")) {
        char *end;
        double f;
        if (dup_key(ps, &s->seen, K_BFACT, key))
            return 1;
        f = strtod(val, &end);
        if (!isdigit((unsigned char)*val) || *end || !(f >= 1.0 && f <= 100.0))
            perr(ps, ps->line, "invalid backoff-factor '%s' (a number from 1 to 100)", val);
        else
            s->backoff_factor = f;
    } else if (!strcmp(key, "backoff-max")) {
        if (dup_key(ps, &s->seen, K_BMAX, key))
            return 1;
        parse_duration_key(ps, key, val, &s->backoff_max_ms, 0, 3600000);
    } else if (!strcmp(key, "crash-limit")) {
        if (dup_key(ps, &s->seen, K_CRASH, key))
            return 1;
        if (cfg_parse_crash_limit(val, &s->crash_limit, &s->crash_window_ms) < 0)
            perr(ps, ps->line, "invalid crash-limit '%s' (expected 'N in DURATION', e.g. '3 in 60s', or none)",
                 val);
    } else if (!strcmp(key, "after")) {
        add_after(ps, s, val);
    } else if (!strcmp(key, "user")) {
        struct passwd *pw;
        if (dup_key(ps, &s->seen, K_USER, key))
            return 1;
        pw = getpwnam(val);
        if (!pw) {
            perr(ps, ps->line, "unknown user '%s'", val);
            return 1;
        }
        s->has_user = true;
        s->uid = pw->pw_uid;
        if (!s->has_group)
            s->gid = pw->pw_gid;
        s->user = strdup(val);
        if (!s->user)
            perr(ps, ps->line, "out of memory");
    } else if (!strcmp(key, "group")) {
        struct group *g;
        if (dup_key(ps, &s->seen, K_GROUP, key))
            return 1;
        g = getgrnam(val);
        if (!g) {
            perr(ps, ps->line, "unknown group '%s'", val);
            return 1;
        }
        s->has_group = true;
        s->gid = g->gr_gid;
    } else if (!strcmp(key, "nice")) {
        char *end;
        long n;
        if (dup_key(ps, &s->seen, K_NICE, key))
            return 1;
        errno = 0;
        n = strtol(val, &end, 10);
        if (!*val || *end || errno || n < -20 || n > 19)
            perr(ps, ps->line, "invalid nice '%s' (an integer from -20 to 19)", val);
        s->has_nice = true;
        s->nice = (int)n;
    } else if (!strcmp(key, "cpu-affinity")) {
        if (dup_key(ps, &s->seen, K_AFF, key))
            return 1;
        if (cfg_parse_cpu_list(val, &s->affinity) < 0)
            perr(ps, ps->line, "invalid cpu-affinity '%s' (a CPU list like 2-3,5)", val);
        s->has_affinity = true;
    } else if (!strcmp(key, "sched")) {
        int r;
        if (dup_key(ps, &s->seen, K_SCHED, key))
            return 1;
        s->sched_line = ps->line;
        r = sched_parse(val, &s->sched);
        if (r == -ERANGE)
            perr(ps, ps->line, "invalid sched '%s' (priority 1 to 99; deadline needs "
                 "runtime <= deadline <= period, each 1ns to 100s)", val);
        else if (r < 0)
            perr(ps, ps->line, "invalid sched '%s' (expected other, batch, idle, fifo:PRIO, "
                 "rr:PRIO or deadline:RUNTIME/DEADLINE/PERIOD with units, e.g. 2ms/10ms/10ms)", val);
    } else if (!strcmp(key, "deadline")) {
        if (dup_key(ps, &s->seen, K_DEADLINE, key))
            return 1;
        if (!strcmp(val, "none"))
            s->deadline_ns = 0;
        else if (sched_parse_ns(val, &s->deadline_ns) < 0)
            perr(ps, ps->line, "invalid deadline '%s' (a reaction time with a unit, 1ns to 100s, "
                 "e.g. 5ms, or none)", val);
    } else if (!strcmp(key, "limit-rttime")) {
        uint64_t ms;
        if (dup_key(ps, &s->seen, K_LRTTIME, key))
            return 1;
        if (!strcmp(val, "infinity"))
            s->limit_rttime = RLIM_INFINITY;
        else if (cfg_parse_duration_ms(val, &ms) < 0 || ms == 0 || ms > 3600000)
            perr(ps, ps->line, "invalid limit-rttime '%s' (CPU time without blocking, 1ms to 1h, or infinity)", val);
        else
            s->limit_rttime = ms * 1000; /* the kernel counts microseconds */
    } else if (!strcmp(key, "limit-as")) {
        if (dup_key(ps, &s->seen, K_LAS, key))
            return 1;
        if (cfg_parse_size(val, &s->limit_as) < 0)
            perr(ps, ps->line, "invalid limit-as '%s' (bytes with optional K, M, G, T, or infinity)", val);
    } else if (!strcmp(key, "limit-cpu")) {
        unsigned long long v;
        if (dup_key(ps, &s->seen, K_LCPU, key))
            return 1;
        if (!strcmp(val, "infinity"))
            s->limit_cpu = RLIM_INFINITY;
        else if (parse_uint(val, UINT32_MAX, &v) < 0)
            perr(ps, ps->line, "invalid limit-cpu '%s' (CPU seconds, or infinity)", val);
        else
            s->limit_cpu = v;
    } else if (!strcmp(key, "limit-nofile")) {
        unsigned long long v;
        if (dup_key(ps, &s->seen, K_LNOFILE, key))
            return 1;
        if (!strcmp(val, "infinity"))
            s->limit_nofile = RLIM_INFINITY;
        else if (parse_uint(val, 1u << 30, &v) < 0 || v < 3)
            perr(ps, ps->line, "invalid limit-nofile '%s' (a number of files, at least 3, or infinity)", val);
        else
            s->limit_nofile = v;
    } else if (!strcmp(key, "stop-timeout")) {
        if (dup_key(ps, &s->seen, K_STOPTO, key))
            return 1;
        parse_duration_key(ps, key, val, &s->stop_timeout_ms, 1, 3600000);
    } else if (!strcmp(key, "env")) {
        const char *eq = strchr(val, '=');
        char *d;
        if (!eq || eq == val) {
            perr(ps, ps->line, "invalid env '%s' (expected NAME=VALUE)", val);
            return 1;
        }
        for (const char *p = val; p < eq; p++) {
            if (!(isalnum((unsigned char)*p) || *p == '_') || isdigit((unsigned char)val[0])) {
                perr(ps, ps->line, "invalid environment variable name in '%s'", val);
                return 1;
            }
        }
        if (hmk_env_reserved(val)) {
            perr(ps, ps->line, "env '%.*s' is set by the daemon", (int)(eq - val), val);
            return 1;
        }
        for (char **e = s->env; e && *e; e++) {
            if (!strncmp(*e, val, (size_t)(eq - val + 1))) {
                perr(ps, ps->line, "duplicate env '%.*s'", (int)(eq - val), val);
                return 1;
            }
        }
        d = strdup(val);
        if (!d || strv_push(&s->env, d) < 0)
            perr(ps, ps->line, "out of memory");
    } else if (!strcmp(key, "writes")) {
        char **words = NULL;
        if (dup_key(ps, &s->seen, K_WRITES, key))
            return 1;
        s->has_writes = true;
        if (!strcmp(val, "none"))
            return 1;
        if (cfg_split_argv(val, &words) < 0) {
            perr(ps, ps->line, "invalid writes '%s'", val);
            return 1;
        }
        for (char **w = words; *w && !ps->failed; w++) {
            char *tok, *save = NULL;
            for (tok = strtok_r(*w, ",", &save); tok && !ps->failed; tok = strtok_r(NULL, ",", &save)) {
                char *dup;
                /* region pin names are HAL names without the prefix: 47 chars */
                if (!hmk_ctl_name_valid(tok, strlen(tok)) || strlen(tok) > 47) {
                    perr(ps, ps->line, "invalid pin name '%s' in writes", tok);
                    break;
                }
                dup = strdup(tok);
                if (!dup || strv_push(&s->writes, dup) < 0)
                    perr(ps, ps->line, "out of memory");
            }
        }
        cfg_strv_free(words);
    } else if (!strcmp(key, "ready")) {
        if (dup_key(ps, &s->seen, K_READY, key))
            return 1;
        if (!strcmp(val, "fd"))
            s->ready = CFG_READY_FD;
        else if (!strcmp(val, "none"))
            s->ready = CFG_READY_NONE;
        else
            perr(ps, ps->line, "invalid ready '%s' (expected fd or none)", val);
    } else if (!strcmp(key, "ready-timeout")) {
        if (dup_key(ps, &s->seen, K_READYTO, key))
            return 1;
        if (!strcmp(val, "none"))
            s->ready_timeout_ms = 0;
        else
            parse_duration_key(ps, key, val, &s->ready_timeout_ms, 1, 3600000);
    } else {
        perr(ps, ps->line, "unknown key '%s' in [service %s]", key, s->name);
    }
    return 1;
}

/* Appends the blank-separated words of val to *v. */
static int strv_append_words(char ***v, const char *val)
{
    char **words = NULL;
    size_t n = 0, m = 0;
    int ret = cfg_split_argv(val, &words);

    if (ret < 0)
        return ret;
    while (*v && (*v)[n])
        n++;
    while (words[m])
        m++;
    char **nv = realloc(*v, (n + m + 1) * sizeof(*nv));
    if (!nv) {
        cfg_strv_free(words);
        return -ENOMEM;
    }
    memcpy(nv + n, words, (m + 1) * sizeof(*nv));
    free(words); /* the strings moved into nv */
    *v = nv;
    return 0;
}

static int queue_key(struct pstate *ps, struct cfg_queue *q, const char *key, const char *val)
{
    uint64_t v;

    if (!strcmp(key, "depth") || !strcmp(key, "size")) {
        bool depth = key[0] == 'd';
        unsigned bit = depth ? 1u : 2u;
        if (q->seen & bit) {
            perr(ps, ps->line, "duplicate key '%s' in [queue %s]", key, q->name);
            return 1;
        }
        q->seen |= bit;
        if (cfg_parse_size(val, &v) < 0 || v == 0 || v > (depth ? 1048576u : 65536u)) {
            perr(ps, ps->line, "invalid %s '%s' (1..%u%s)", key, val, depth ? 1048576u : 65536u,
                 depth ? " messages" : " bytes");
            return 1;
        }
        *(depth ? &q->depth : &q->size) = (unsigned)v;
        return 1;
    }
    if (!strcmp(key, "senders") || !strcmp(key, "receivers")) {
        int ret = strv_append_words(key[0] == 's' ? &q->senders : &q->receivers, val);
        if (ret < 0)
            perr(ps, ps->line, "invalid %s '%s'", key, val);
        return 1;
    }
    perr(ps, ps->line, "unknown key '%s' in [queue %s]", key, q->name);
    return 1;
}

/* Every queue complete and naming known services; then each service learns
 * which queues it may use (HMK_QUEUES_SEND / HMK_QUEUES_RECV). */
/* The kernel's isolated CPUs (isolcpus=, nohz_full= setups): where LinuxCNC
 * puts its realtime threads when the integrator followed its docs. */
static void read_isolated(cpu_set_t *set)
{
    char buf[512];
    FILE *f = fopen("/sys/devices/system/cpu/isolated", "re");
    size_t n;

    CPU_ZERO(set);
    if (!f)
        return;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    if (buf[0] && cfg_parse_cpu_list(buf, set) < 0)
        CPU_ZERO(set);
}

static void cpu_list_format(const cpu_set_t *set, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (int i = 0; i < CPU_SETSIZE && off + 8 < len; i++)
        if (CPU_ISSET(i, set))
            off += (size_t)snprintf(buf + off, len - off, "%s%d", off ? "," : "", i);
}

/* A realtime class may not share a CPU with LinuxCNC's realtime threads:
 * a busy SCHED_FIFO service there would delay the servo thread itself. */
static void check_sched(struct pstate *ps, const struct cfg_daemon *d, const struct cfg_service *s)
{
    char cpus[256];
    cpu_set_t both;

    if (s->sched.cls == SCHED_CLASS_DEADLINE && s->has_affinity) {
        perr(ps, s->sched_line, "[service %s]: sched = deadline cannot have a cpu-affinity "
             "(the kernel runs a deadline task on every CPU of its root domain; use a cpuset, "
             "or fifo/rr with cpu-affinity)", s->name);
        return;
    }
    if (!d->has_rt_cpus)
        return;
    cpu_list_format(&d->rt_cpus, cpus, sizeof(cpus));
    if (s->has_affinity) {
        CPU_AND(&both, &s->affinity, &d->rt_cpus);
        if (CPU_COUNT(&both)) {
            cpu_list_format(&both, cpus, sizeof(cpus));
            perr(ps, s->sched_line, "[service %s]: a realtime sched on CPU %s, which LinuxCNC's "
                 "realtime threads use (rt-cpus); choose a cpu-affinity outside it", s->name, cpus);
        }
    } else if (!d->rt_cpus_isolated) {
        perr(ps, s->sched_line, "[service %s]: a realtime sched may run on every CPU, including "
             "rt-cpus %s (not isolated); %s", s->name, cpus,
             s->sched.cls == SCHED_CLASS_DEADLINE ? "isolate them (isolcpus=) or use fifo/rr "
             "with cpu-affinity" : "set cpu-affinity outside them");
    }
}

static void finish_sched(struct pstate *ps)
{
    struct cfg_daemon *d = &ps->c->daemon;
    cpu_set_t iso, both;

    read_isolated(&iso);
    if (!(d->seen & D_RTCPUS) && CPU_COUNT(&iso)) {
        d->has_rt_cpus = true;
        d->rt_cpus = iso;
    }
    if (d->has_rt_cpus) {
        /* unpinned tasks are never balanced onto isolated CPUs */
        CPU_AND(&both, &d->rt_cpus, &iso);
        d->rt_cpus_isolated = CPU_EQUAL(&both, &d->rt_cpus);
    }
    for (unsigned i = 0; i < ps->c->n_svc && !ps->failed; i++)
        if (sched_is_realtime(&ps->c->svc[i]->sched))
            check_sched(ps, d, ps->c->svc[i]);
}

static void finish_queues(struct pstate *ps)
{
    struct cfg *c = ps->c;

    for (unsigned i = 0; i < c->n_q && !ps->failed; i++) {
        struct cfg_queue *q = c->q[i];
        char **lists[2] = { q->senders, q->receivers };
        if (!q->depth || !q->size || !q->senders || !q->receivers) {
            perr(ps, q->line, "[queue %s] needs depth, size, senders and receivers", q->name);
            return;
        }
        for (int k = 0; k < 2; k++)
            for (char **n = lists[k]; *n; n++) {
                struct cfg_service *s = cfg_find(c, *n);
                if (!s) {
                    perr(ps, q->line, "[queue %s]: unknown service '%s' in %s", q->name, *n,
                         k ? "receivers" : "senders");
                    return;
                }
                if (strv_append_words(k ? &s->q_recv : &s->q_send, q->name) < 0) {
                    perr(ps, q->line, "out of memory");
                    return;
                }
            }
    }
    for (unsigned i = 0; i < c->n_svc; i++) {
        c->svc[i]->has_queues = c->n_q > 0;
        c->svc[i]->has_writer_gid = c->daemon.has_writer_group;
        c->svc[i]->writer_gid = c->daemon.writer_gid;
    }
}

static int handler(void *user, const char *section, const char *key, const char *val)
{
    struct pstate *ps = user;

    (void)section; /* the reader tracked it, with its line number */
    if (ps->failed)
        return 1;
    if (!*val) {
        perr(ps, ps->line, "empty value for '%s'", key);
        return 1;
    }
    if (ps->in_section == 1)
        return daemon_key(ps, key, val);
    if (ps->in_section == 2)
        return service_key(ps, ps->cur, key, val);
    if (ps->in_section == 3)
        return queue_key(ps, ps->curq, key, val);
    perr(ps, ps->line, "key '%s' outside of a section", key);
    return 1;
}

/* Depth-first topological sort; on a cycle, reports it and returns -ELOOP. */
static int visit(struct pstate *ps, unsigned i, unsigned char *mark, unsigned *stack, unsigned depth,
                 struct cfg_service **order, unsigned *n_order)
{
    struct cfg_service *s = ps->c->svc[i];

    if (mark[i] == 2)
        return 0;
    stack[depth] = i;
    if (mark[i] == 1) {
        char msg[200] = "";
        size_t len = 0;
        unsigned start = 0;
        while (stack[start] != i)
            start++;
        for (unsigned k = start; k <= depth && len < sizeof(msg); k++)
            len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%s", k > start ? " -> " : "",
                                    ps->c->svc[stack[k]]->name);
        perr(ps, s->line, "dependency cycle in after: %s", msg);
        return -ELOOP;
    }
    mark[i] = 1;
    for (char **a = s->after; a && *a; a++) {
        unsigned j;
        for (j = 0; j < ps->c->n_svc; j++)
            if (!strcmp(ps->c->svc[j]->name, *a))
                break;
        if (visit(ps, j, mark, stack, depth + 1, order, n_order) < 0)
            return -ELOOP;
    }
    mark[i] = 2;
    order[(*n_order)++] = s;
    return 0;
}

static void finish(struct pstate *ps)
{
    struct cfg *c = ps->c;
    unsigned char *mark = NULL;
    unsigned *stack = NULL, n_order = 0;
    struct cfg_service **order = NULL;

    for (unsigned i = 0; i < c->n_svc && !ps->failed; i++) {
        struct cfg_service *s = c->svc[i];
        if (!s->argv)
            perr(ps, s->line, "[service %s] has no exec", s->name);
        else if (s->backoff_initial_ms > s->backoff_max_ms)
            perr(ps, s->line, "[service %s]: backoff-initial is larger than backoff-max", s->name);
        for (size_t k = 0; s->after && s->after[k] && !ps->failed; k++) {
            if (!cfg_find(c, s->after[k]))
                perr(ps, s->after_line[k], "unknown service '%s' in after", s->after[k]);
        }
    }
    if (ps->failed || !c->n_svc)
        return;
    mark = calloc(c->n_svc, 1);
    stack = calloc(c->n_svc + 1, sizeof(*stack));
    order = calloc(c->n_svc, sizeof(*order));
    if (!mark || !stack || !order) {
        perr(ps, 0, "out of memory");
        goto out;
    }
    for (unsigned i = 0; i < c->n_svc; i++)
        if (visit(ps, i, mark, stack, 0, order, &n_order) < 0)
            goto out;
    memcpy(c->svc, order, c->n_svc * sizeof(*order));
out:
    free(mark);
    free(stack);
    free(order);
}

static int load(struct src src, struct cfg **out, struct cfg_error *err)
{
    struct pstate ps = { .err = err, .src = src };
    struct cfg *c;
    int ret;

    err->line = 0;
    err->msg[0] = '\0';
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    ps.c = c;
    c->daemon.region = strdup(CFG_DEFAULT_REGION);
    c->daemon.control_socket = strdup(HMK_CTL_DEFAULT_SOCKET);
    c->daemon.heartbeat_ms = 1000; /* death shows in the alive word: this is for a hang */
    c->daemon.log_level = 6; /* LOG_INFO */
    c->daemon.control_mode = 0660;
    c->daemon.pin_monitor_rate = 10;
    if (!c->daemon.region || !c->daemon.control_socket) {
        cfg_free(c);
        return -ENOMEM;
    }
    ret = ini_parse_stream(reader, &ps, handler, &ps);
    if (ret > 0 && (!ps.failed || ret < err->line)) {
        ps.failed = false;
        perr(&ps, ret, "syntax error (expected '[section]', 'key = value' or a comment)");
    } else if (ret < 0 && !ps.failed) {
        perr(&ps, 0, "out of memory");
    }
    if (!ps.failed && src.f && ferror(src.f)) {
        cfg_free(c);
        return -EIO;
    }
    if (!ps.failed)
        finish(&ps);
    if (!ps.failed)
        finish_queues(&ps);
    if (!ps.failed)
        finish_sched(&ps);
    if (ps.failed) {
        cfg_free(c);
        return -EINVAL;
    }
    *out = c;
    return 0;
}

int cfg_load_string(const char *text, struct cfg **out, struct cfg_error *err)
{
    return load((struct src){ .str = text }, out, err);
}

int cfg_load(const char *path, struct cfg **out, struct cfg_error *err)
{
    FILE *f = fopen(path, "re");
    int ret;

    if (!f) {
        err->line = 0;
        err->msg[0] = '\0';
        return -errno;
    }
    ret = load((struct src){ .f = f }, out, err);
    fclose(f);
    return ret;
}
