/*
 * cfg_check.c - the configuration checks that need the whole file, run by
 * cfg.c once every line parsed: services complete, after= targets known
 * and acyclic (the services are then sorted into start order), queues
 * complete and granted, realtime services off LinuxCNC's CPUs. See
 * cfg_priv.h. Each check stops at its first error, which is the one
 * reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "cfg_priv.h"
#include "fmt.h"

void cfg_verror(struct cfg_error *err, int line, const char *format, va_list ap)
{
    err->line = line;
    fmt_v(err->msg, sizeof(err->msg), format, ap);
}

/* Fills *err; returns -EINVAL. */
static int fail(struct cfg_error *err, int line, const char *format, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct cfg_error *err, int line, const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    cfg_verror(err, line, format, ap);
    va_end(ap);
    return -EINVAL;
}

/* The after= walk: services are visited depth first, every after= target
 * before the service itself. */
struct walk {
    struct cfg *c;
    struct cfg_error *err;
    unsigned char *mark;         /* 0 new, 1 on the path, 2 done */
    unsigned *stack;             /* the path, for the cycle's message */
    struct cfg_service **order;  /* done services, targets first */
    unsigned n_order;
};

/* On a cycle, reports it and returns -ELOOP. */
static int visit(struct walk *w, unsigned i, unsigned depth)
{
    struct cfg_service *s = w->c->svc[i];

    if (w->mark[i] == 2)
        return 0;
    w->stack[depth] = i;
    if (w->mark[i] == 1) {
        char msg[200] = "";
        size_t len = 0;
        unsigned start = 0;
        while (w->stack[start] != i)
            start++;
        for (unsigned k = start; k <= depth && len < sizeof(msg); k++)
            len += (size_t)fmt(msg + len, sizeof(msg) - len, "%s%s", k > start ? " -> " : "",
                               w->c->svc[w->stack[k]]->name);
        fail(w->err, s->line, "dependency cycle in after: %s", msg);
        return -ELOOP;
    }
    w->mark[i] = 1;
    for (char **a = s->after; a && *a; a++) {
        unsigned j;
        for (j = 0; j < w->c->n_svc; j++)
            if (!strcmp(w->c->svc[j]->name, *a))
                break;
        if (visit(w, j, depth + 1) < 0)
            return -ELOOP;
    }
    w->mark[i] = 2;
    w->order[w->n_order++] = s;
    return 0;
}

/* c->svc into start order: every after= target first. */
static int sort_services(struct cfg *c, struct cfg_error *err)
{
    struct walk w = { .c = c, .err = err };
    int ret = 0;

    if (!c->n_svc)
        return 0;
    w.mark = calloc(c->n_svc, 1);
    w.stack = calloc(c->n_svc + 1, sizeof(*w.stack));
    w.order = calloc(c->n_svc, sizeof(*w.order));
    if (!w.mark || !w.stack || !w.order) {
        ret = fail(err, 0, "out of memory");
        goto out;
    }
    for (unsigned i = 0; i < c->n_svc; i++)
        if (visit(&w, i, 0) < 0) {
            ret = -EINVAL;
            goto out;
        }
    memcpy(c->svc, w.order, c->n_svc * sizeof(*w.order));
out:
    free(w.mark);
    free(w.stack);
    free(w.order);
    return ret;
}

static int check_services(struct cfg *c, struct cfg_error *err)
{
    for (unsigned i = 0; i < c->n_svc; i++) {
        struct cfg_service *s = c->svc[i];
        if (!s->argv)
            return fail(err, s->line, "[service %s] has no exec", s->name);
        if (s->backoff_initial_ms > s->backoff_max_ms)
            return fail(err, s->line, "[service %s]: backoff-initial is larger than backoff-max", s->name);
        for (size_t k = 0; s->after && s->after[k]; k++)
            if (!cfg_find(c, s->after[k]))
                return fail(err, s->after_line[k], "unknown service '%s' in after", s->after[k]);
    }
    return sort_services(c, err);
}

/* Every queue complete and naming known services; then each service learns
 * which queues it may use (HMK_QUEUES_SEND / HMK_QUEUES_RECV). */
static int grant_queues(struct cfg *c, struct cfg_error *err)
{
    for (unsigned i = 0; i < c->n_q; i++) {
        struct cfg_queue *q = c->q[i];
        char **lists[2] = { q->senders, q->receivers };
        if (!q->depth || !q->size || !q->senders || !q->receivers)
            return fail(err, q->line, "[queue %s] needs depth, size, senders and receivers", q->name);
        for (int k = 0; k < 2; k++)
            for (char **n = lists[k]; *n; n++) {
                struct cfg_service *s = cfg_find(c, *n);
                if (!s)
                    return fail(err, q->line, "[queue %s]: unknown service '%s' in %s", q->name, *n,
                                k ? "receivers" : "senders");
                if (cfg_strv_append_words(k ? &s->q_recv : &s->q_send, q->name) < 0)
                    return fail(err, q->line, "out of memory");
            }
    }
    for (unsigned i = 0; i < c->n_svc; i++) {
        c->svc[i]->has_queues = c->n_q > 0;
        c->svc[i]->has_writer_gid = c->daemon.has_writer_group;
        c->svc[i]->writer_gid = c->daemon.writer_gid;
    }
    return 0;
}

/* The kernel's isolated CPUs (isolcpus=, nohz_full= setups): where LinuxCNC
 * puts its realtime threads when the integrator followed its docs. */
static void read_isolated(cpu_set_t *set)
{
    char buf[512];
    int fd = open("/sys/devices/system/cpu/isolated", O_RDONLY | O_CLOEXEC);
    ssize_t n;

    CPU_ZERO(set);
    if (fd < 0)
        return;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return;
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
            off += (size_t)fmt(buf + off, len - off, "%s%d", off ? "," : "", i);
}

/* A realtime class may not share a CPU with LinuxCNC's realtime threads:
 * a busy SCHED_FIFO service there would delay the servo thread itself. */
static int check_sched(const struct cfg_daemon *d, const struct cfg_service *s, struct cfg_error *err)
{
    char cpus[256];
    cpu_set_t both;

    if (s->sched.cls == SCHED_CLASS_DEADLINE && s->has_affinity)
        return fail(err, s->sched_line, "[service %s]: sched = deadline cannot have a cpu-affinity "
                    "(the kernel runs a deadline task on every CPU of its root domain; use a cpuset, "
                    "or fifo/rr with cpu-affinity)", s->name);
    if (!d->has_rt_cpus)
        return 0;
    cpu_list_format(&d->rt_cpus, cpus, sizeof(cpus));
    if (s->has_affinity) {
        CPU_AND(&both, &s->affinity, &d->rt_cpus);
        if (CPU_COUNT(&both)) {
            cpu_list_format(&both, cpus, sizeof(cpus));
            return fail(err, s->sched_line, "[service %s]: a realtime sched on CPU %s, which LinuxCNC's "
                        "realtime threads use (rt-cpus); choose a cpu-affinity outside it", s->name, cpus);
        }
    } else if (!d->rt_cpus_isolated) {
        return fail(err, s->sched_line, "[service %s]: a realtime sched may run on every CPU, including "
                    "rt-cpus %s (not isolated); %s", s->name, cpus,
                    s->sched.cls == SCHED_CLASS_DEADLINE ? "isolate them (isolcpus=) or use fifo/rr "
                    "with cpu-affinity" : "set cpu-affinity outside them");
    }
    return 0;
}

static int check_rt_cpus(struct cfg *c, bool rt_cpus_given, struct cfg_error *err)
{
    struct cfg_daemon *d = &c->daemon;
    cpu_set_t iso, both;

    read_isolated(&iso);
    if (!rt_cpus_given && CPU_COUNT(&iso)) {
        d->has_rt_cpus = true;
        d->rt_cpus = iso;
    }
    if (d->has_rt_cpus) {
        /* unpinned tasks are never balanced onto isolated CPUs */
        CPU_AND(&both, &d->rt_cpus, &iso);
        d->rt_cpus_isolated = CPU_EQUAL(&both, &d->rt_cpus);
    }
    for (unsigned i = 0; i < c->n_svc; i++)
        if (sched_is_realtime(&c->svc[i]->sched) && check_sched(d, c->svc[i], err) < 0)
            return -EINVAL;
    return 0;
}

int cfg_check(struct cfg *c, bool rt_cpus_given, struct cfg_error *err)
{
    int ret = check_services(c, err);

    if (ret == 0)
        ret = grant_queues(c, err);
    if (ret == 0)
        ret = check_rt_cpus(c, rt_cpus_given, err);
    return ret;
}
