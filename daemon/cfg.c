/*
 * cfg.c - configuration parsing, see cfg.h.
 *
 * inih calls our handler without a line number, and does not report empty
 * sections. So we feed it through our own reader (ini_parse_stream): the
 * reader counts lines (the handler runs for the line just read) and checks
 * section headers itself, so that "[bogus]" with no keys is still an error.
 *
 * Sections and keys are tables (sections[], keys[]): a header opens the
 * section its word names, and a `key = value` line is looked up in keys[]
 * by the current section and the key's name, which gives its parser, the
 * field it fills and whether it may repeat. The value parsers themselves
 * are in cfg_value.c, the keys in cfg_keys.c, the checks across sections
 * in cfg_check.c.
 */
#include "cfg.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg_priv.h"
#include "fmt.h"
#include "hmk_ctl.h"

#define CFG_DEFAULT_REGION "hal-microkernel"
/* a configuration larger than this is not one (a wrong -c path, /dev/zero) */
#define CFG_MAX_BYTES (4u << 20)

void cfg_perr(struct pstate *ps, int line, const char *format, ...)
{
    va_list ap;

    if (ps->failed)
        return; /* the first error is the one reported */
    ps->failed = true;
    va_start(ap, format);
    cfg_verror(ps->err, line, format, ap);
    va_end(ap);
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
    return !strcmp(a->name, b->name) && cfg_strv_equal(a->argv, b->argv) && a->restart == b->restart &&
           a->backoff_initial_ms == b->backoff_initial_ms && a->backoff_factor == b->backoff_factor &&
           a->backoff_max_ms == b->backoff_max_ms && a->crash_limit == b->crash_limit &&
           a->crash_window_ms == b->crash_window_ms && cfg_strv_equal(a->after, b->after) &&
           a->has_user == b->has_user && a->has_group == b->has_group &&
           (!a->has_user || a->uid == b->uid) && (!(a->has_user || a->has_group) || a->gid == b->gid) &&
           a->has_nice == b->has_nice && (!a->has_nice || a->nice == b->nice) &&
           a->has_affinity == b->has_affinity &&
           (!a->has_affinity || CPU_EQUAL(&a->affinity, &b->affinity)) && a->limit_as == b->limit_as &&
           a->limit_cpu == b->limit_cpu && a->limit_nofile == b->limit_nofile &&
           sched_equal(&a->sched, &b->sched) && a->limit_rttime == b->limit_rttime &&
           a->deadline_ns == b->deadline_ns &&
           a->stop_timeout_ms == b->stop_timeout_ms && cfg_strv_equal(a->env, b->env) &&
           a->ready == b->ready &&
           a->ready_timeout_ms == b->ready_timeout_ms &&
           a->has_writes == b->has_writes && cfg_strv_equal(a->writes, b->writes) &&
           a->has_writer_gid == b->has_writer_gid &&
           (!a->has_writer_gid || a->writer_gid == b->writer_gid) &&
           a->has_queues == b->has_queues && cfg_strv_equal(a->q_send, b->q_send) &&
           cfg_strv_equal(a->q_recv, b->q_recv);
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

/* ---- sections ---------------------------------------------------------------- */

static void enter(struct pstate *ps, enum cfg_section sec, void *obj, const char *name, unsigned *seen)
{
    ps->sec = sec;
    ps->obj = obj;
    ps->sec_name = name;
    ps->seen = seen;
}

static void open_daemon(struct pstate *ps, const char *name)
{
    (void)name;
    if (ps->seen_daemon) {
        cfg_perr(ps, ps->line, "duplicate section [daemon]");
        return;
    }
    ps->seen_daemon = true;
    enter(ps, SEC_DAEMON, &ps->c->daemon, NULL, &ps->c->daemon.seen);
}

static void open_service(struct pstate *ps, const char *name)
{
    struct cfg_service *s, **nv;

    if (!hmk_ctl_name_valid(name, strlen(name))) {
        cfg_perr(ps, ps->line, "invalid service name '%s' (1-%u characters of A-Z a-z 0-9 _ . @ -)",
                 name, HMK_CTL_NAME_MAX);
        return;
    }
    if (cfg_find(ps->c, name)) {
        cfg_perr(ps, ps->line, "duplicate section [service %s]", name);
        return;
    }
    s = service_new(name, ps->line);
    nv = s ? realloc(ps->c->svc, (ps->c->n_svc + 1) * sizeof(*nv)) : NULL;
    if (!nv) {
        cfg_service_free(s);
        cfg_perr(ps, ps->line, "out of memory");
        return;
    }
    ps->c->svc = nv;
    nv[ps->c->n_svc++] = s;
    enter(ps, SEC_SERVICE, s, s->name, &s->seen);
}

static void open_queue(struct pstate *ps, const char *name)
{
    struct cfg_queue *q, **nv;
    size_t len = strlen(name);

    if (len == 0 || len > 64 || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                             "0123456789_-") != len) {
        cfg_perr(ps, ps->line, "invalid queue name '%s' (1-64 characters of A-Z a-z 0-9 _ -)", name);
        return;
    }
    for (unsigned i = 0; i < ps->c->n_q; i++)
        if (!strcmp(ps->c->q[i]->name, name)) {
            cfg_perr(ps, ps->line, "duplicate section [queue %s]", name);
            return;
        }
    q = calloc(1, sizeof(*q));
    if (q)
        q->name = strdup(name);
    nv = q && q->name ? realloc(ps->c->q, (ps->c->n_q + 1) * sizeof(*nv)) : NULL;
    if (!nv) {
        queue_free(q);
        cfg_perr(ps, ps->line, "out of memory");
        return;
    }
    q->line = ps->line;
    ps->c->q = nv;
    nv[ps->c->n_q++] = q;
    enter(ps, SEC_QUEUE, q, q->name, &q->seen);
}

/* The sections, by their header: [daemon], [service NAME], [queue NAME]. */
static const struct section_def {
    const char *word;      /* the header's first word */
    bool named;            /* "[WORD NAME]"; else just "[WORD]" */
    bool dup_says_where;   /* its "duplicate key" message names the section */
    void (*open)(struct pstate *ps, const char *name);
} sections[] = {
    [SEC_DAEMON] = { "daemon", false, false, open_daemon },
    [SEC_SERVICE] = { "service", true, false, open_service },
    [SEC_QUEUE] = { "queue", true, true, open_queue },
};

/* "daemon", "service NAME", "queue NAME": the current section's header */
static const char *section_label(const struct pstate *ps, char *buf, size_t len)
{
    fmt(buf, len, "%s%s%s", sections[ps->sec].word, ps->sec_name ? " " : "",
        ps->sec_name ? ps->sec_name : "");
    return buf;
}

/* Opens the section a header (between the brackets) names. */
static void open_section(struct pstate *ps, const char *header)
{
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        const struct section_def *sd = &sections[i];
        size_t n = sd->word ? strlen(sd->word) : 0;

        if (!sd->word || strncmp(header, sd->word, n))
            continue;
        if (!sd->named && header[n] == '\0') {
            sd->open(ps, NULL);
            return;
        }
        if (sd->named && header[n] == ' ') {
            sd->open(ps, header + n + 1);
            return;
        }
    }
    cfg_perr(ps, ps->line, "unknown section [%s] (expected [daemon], [service NAME] or [queue NAME])",
             header);
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
            cfg_perr(ps, ps->line, "unexpected text after section header");
            return;
        }
    }
    n = (size_t)(e - p - 1);
    if (n >= sizeof(name)) {
        cfg_perr(ps, ps->line, "section name too long");
        return;
    }
    memcpy(name, p + 1, n);
    name[n] = '\0';
    open_section(ps, name);
}

static char *reader(char *str, int num, void *stream)
{
    struct pstate *ps = stream;
    const char *nl;
    size_t n;

    if (ps->failed)
        return NULL; /* stop at the first error */
    if (ps->src.p == ps->src.end)
        return NULL;
    nl = memchr(ps->src.p, '\n', (size_t)(ps->src.end - ps->src.p));
    n = nl ? (size_t)(nl - ps->src.p + 1) : (size_t)(ps->src.end - ps->src.p);
    if (n > (size_t)num - 1)
        n = (size_t)num - 1;
    memcpy(str, ps->src.p, n);
    str[n] = '\0';
    ps->src.p += n;
    ps->line++;
    if (n == (size_t)num - 1 && str[n - 1] != '\n' && ps->src.p != ps->src.end) {
        cfg_perr(ps, ps->line, "line too long (at most %d characters)", num - 2);
        return NULL;
    }
    if (memchr(str, '\0', n) != NULL) {
        cfg_perr(ps, ps->line, "NUL byte in line");
        return NULL;
    }
    check_section_line(ps, str);
    if (ps->failed)
        return NULL;
    return str;
}

/* ---- keys (cfg_keys.c has them) ------------------------------------------------ */

static bool key_given(enum cfg_section sec, unsigned seen, const char *name)
{
    unsigned bit;

    return cfg_key_find(sec, name, &bit) && (seen & bit);
}

/* One `key = value` line of the current section. */
static void apply_key(struct pstate *ps, const char *key, const char *val)
{
    char where[320];
    unsigned bit;
    const struct key_def *k = cfg_key_find(ps->sec, key, &bit);

    if (!k || (k->dup == KEY_ONCE && (*ps->seen & bit))) {
        section_label(ps, where, sizeof(where));
        if (!k)
            cfg_perr(ps, ps->line, "unknown key '%s' in [%s]", key, where);
        else if (sections[ps->sec].dup_says_where)
            cfg_perr(ps, ps->line, "duplicate key '%s' in [%s]", key, where);
        else
            cfg_perr(ps, ps->line, "duplicate key '%s'", key);
        return;
    }
    *ps->seen |= bit;
    k->parse(ps, k, ps->obj, val);
}

static int handler(void *user, const char *section, const char *key, const char *val)
{
    struct pstate *ps = user;

    (void)section; /* the reader tracked it, with its line number */
    if (ps->failed)
        return 1;
    if (!*val)
        cfg_perr(ps, ps->line, "empty value for '%s'", key);
    else if (ps->sec == SEC_NONE)
        cfg_perr(ps, ps->line, "key '%s' outside of a section", key);
    else
        apply_key(ps, key, val);
    return 1;
}

static struct cfg *cfg_new(void)
{
    struct cfg *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->daemon.region = strdup(CFG_DEFAULT_REGION);
    c->daemon.control_socket = strdup(HMK_CTL_DEFAULT_SOCKET);
    c->daemon.heartbeat_ms = 1000; /* death shows in the alive word: this is for a hang */
    c->daemon.log_level = 6; /* LOG_INFO */
    c->daemon.control_mode = 0660;
    c->daemon.pin_monitor_rate = 10;
    if (!c->daemon.region || !c->daemon.control_socket) {
        cfg_free(c);
        return NULL;
    }
    return c;
}

static int load(struct cfg_src src, struct cfg **out, struct cfg_error *err)
{
    struct pstate ps = { .err = err, .src = src };
    struct cfg *c;
    int ret;

    err->line = 0;
    err->msg[0] = '\0';
    c = cfg_new();
    if (!c)
        return -ENOMEM;
    ps.c = c;
    ret = ini_parse_stream(reader, &ps, handler, &ps);
    if (ret > 0 && (!ps.failed || ret < err->line)) {
        ps.failed = false;
        cfg_perr(&ps, ret, "syntax error (expected '[section]', 'key = value' or a comment)");
    } else if (ret < 0 && !ps.failed) {
        cfg_perr(&ps, 0, "out of memory");
    }
    if (!ps.failed && cfg_check(c, key_given(SEC_DAEMON, c->daemon.seen, "rt-cpus"), err) < 0)
        ps.failed = true;
    if (ps.failed) {
        cfg_free(c);
        return -EINVAL;
    }
    *out = c;
    return 0;
}

int cfg_load_string(const char *text, struct cfg **out, struct cfg_error *err)
{
    return load((struct cfg_src){ .p = text, .end = text + strlen(text) }, out, err);
}

/* Read all of fd into *buf (malloc'ed, *len bytes). Not stdio: the daemon
 * reads nothing else through a FILE, and a FILE's code is libc pages the
 * supervisor would keep mapped for the rest of its life. */
static int read_all(int fd, char **buf, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap), *nb;
    ssize_t r;

    if (!b)
        return -ENOMEM;
    for (;;) {
        if (n == cap) {
            if (cap >= CFG_MAX_BYTES) {
                free(b);
                return -EFBIG;
            }
            cap *= 2;
            nb = realloc(b, cap);
            if (!nb) {
                free(b);
                return -ENOMEM;
            }
            b = nb;
        }
        r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            r = -errno;
            free(b);
            return (int)r;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *buf = b;
    *len = n;
    return 0;
}

int cfg_load(const char *path, struct cfg **out, struct cfg_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t len = 0;
    char *text = NULL;
    int ret;

    err->line = 0;
    err->msg[0] = '\0';
    if (fd < 0)
        return -errno;
    ret = read_all(fd, &text, &len);
    close(fd);
    if (ret < 0)
        return ret;
    ret = load((struct cfg_src){ .p = text, .end = text + len }, out, err);
    free(text);
    return ret;
}
