/* svc_sched.c - see svc_sched.h */
#include "svc_sched.h"
#include "cfg.h"
#include "fmt.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* glibc 2.36 has no sched_setattr wrapper; this is the kernel's first
 * layout (SCHED_ATTR_SIZE_VER0), which every kernel since 3.14 takes. */
struct hmk_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
};
#define HMK_SCHED_FLAG_RESET_ON_FORK 0x01

static const struct { const char *name; enum sched_class cls; } plain[] = {
    { "other", SCHED_CLASS_OTHER }, { "batch", SCHED_CLASS_BATCH }, { "idle", SCHED_CLASS_IDLE },
};

/* "2ms", "500us", "1.5ms", "10000000ns", "1s": a unit is required */
static int parse_ns(const char *s, const char *end, uint64_t *out)
{
    static const struct cfg_unit units[] = {
        { "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
    };
    char buf[32];
    size_t n = (size_t)(end - s);
    int ret;

    if (n == 0 || n >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    /* 100 s: surely a typo */
    ret = cfg_parse_scaled(buf, units, sizeof(units) / sizeof(units[0]), 100000000000ull, out);
    if (ret == 0 && *out == 0)
        return -ERANGE; /* under half a nanosecond */
    return ret;
}

int sched_parse_ns(const char *s, uint64_t *out)
{
    return parse_ns(s, s + strlen(s), out);
}

static int parse_prio(const char *s, unsigned *out)
{
    char *end;
    unsigned long v;

    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (*end || errno)
        return -EINVAL;
    if (v < 1 || v > 99)
        return -ERANGE;
    *out = (unsigned)v;
    return 0;
}

static int parse_deadline(const char *s, struct sched_spec *sp)
{
    const char *a = strchr(s, '/'), *b = a ? strchr(a + 1, '/') : NULL;
    int ret;

    if (!a || !b || strchr(b + 1, '/'))
        return -EINVAL;
    if ((ret = parse_ns(s, a, &sp->runtime_ns)) < 0 ||
        (ret = parse_ns(a + 1, b, &sp->deadline_ns)) < 0 ||
        (ret = parse_ns(b + 1, b + 1 + strlen(b + 1), &sp->period_ns)) < 0)
        return ret;
    /* the kernel's own rule; its other limits (period bounds, admission)
     * are sysctls, so they are its to refuse at start */
    if (sp->runtime_ns > sp->deadline_ns || sp->deadline_ns > sp->period_ns)
        return -ERANGE;
    return 0;
}

int sched_parse(const char *s, struct sched_spec *out)
{
    struct sched_spec sp = { 0 };
    int ret;

    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        if (!strcmp(s, plain[i].name)) {
            out->cls = plain[i].cls;
            out->prio = 0;
            out->runtime_ns = out->deadline_ns = out->period_ns = 0;
            return 0;
        }
    }
    if (!strncmp(s, "fifo:", 5) || !strncmp(s, "rr:", 3)) {
        sp.cls = s[0] == 'f' ? SCHED_CLASS_FIFO : SCHED_CLASS_RR;
        ret = parse_prio(strchr(s, ':') + 1, &sp.prio);
    } else if (!strncmp(s, "deadline:", 9)) {
        sp.cls = SCHED_CLASS_DEADLINE;
        ret = parse_deadline(s + 9, &sp);
    } else {
        ret = -EINVAL;
    }
    if (ret == 0)
        *out = sp;
    return ret;
}

bool sched_is_realtime(const struct sched_spec *sp)
{
    return sp->cls == SCHED_CLASS_FIFO || sp->cls == SCHED_CLASS_RR ||
           sp->cls == SCHED_CLASS_DEADLINE;
}

bool sched_equal(const struct sched_spec *a, const struct sched_spec *b)
{
    return a->cls == b->cls && a->prio == b->prio && a->runtime_ns == b->runtime_ns &&
           a->deadline_ns == b->deadline_ns && a->period_ns == b->period_ns;
}

/* in the largest unit that says it exactly: 2ms, 500us, 1500ns */
static const char *fmt_ns(uint64_t ns, char buf[24])
{
    static const struct { uint64_t div; const char *unit; } u[] = {
        { 1000000000ull, "s" }, { 1000000ull, "ms" }, { 1000ull, "us" }, { 1ull, "ns" },
    };
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
        if (ns % u[i].div == 0) {
            fmt(buf, 24, "%llu%s", (unsigned long long)(ns / u[i].div), u[i].unit);
            break;
        }
    }
    return buf;
}

void sched_format(const struct sched_spec *sp, char *buf, unsigned len)
{
    switch (sp->cls) {
    case SCHED_CLASS_UNSET: fmt(buf, len, "inherited"); break;
    case SCHED_CLASS_OTHER: fmt(buf, len, "other"); break;
    case SCHED_CLASS_BATCH: fmt(buf, len, "batch"); break;
    case SCHED_CLASS_IDLE: fmt(buf, len, "idle"); break;
    case SCHED_CLASS_FIFO: fmt(buf, len, "fifo:%u", sp->prio); break;
    case SCHED_CLASS_RR: fmt(buf, len, "rr:%u", sp->prio); break;
    case SCHED_CLASS_DEADLINE: {
        char r[24], d[24], p[24];
        fmt(buf, len, "deadline:%s/%s/%s", fmt_ns(sp->runtime_ns, r), fmt_ns(sp->deadline_ns, d),
            fmt_ns(sp->period_ns, p));
        break;
    }
    }
}

int sched_apply(const struct sched_spec *sp)
{
    struct sched_param p = { .sched_priority = (int)sp->prio };
    int policy;

    switch (sp->cls) {
    case SCHED_CLASS_UNSET: return 0;
    case SCHED_CLASS_OTHER: policy = SCHED_OTHER; break;
    case SCHED_CLASS_BATCH: policy = SCHED_BATCH; break;
    case SCHED_CLASS_IDLE: policy = SCHED_IDLE; break;
    case SCHED_CLASS_FIFO: policy = SCHED_FIFO | SCHED_RESET_ON_FORK; break;
    case SCHED_CLASS_RR: policy = SCHED_RR | SCHED_RESET_ON_FORK; break;
    case SCHED_CLASS_DEADLINE: {
        struct hmk_sched_attr a = {
            .size = sizeof(a), .sched_policy = SCHED_DEADLINE,
            .sched_flags = HMK_SCHED_FLAG_RESET_ON_FORK, .sched_runtime = sp->runtime_ns,
            .sched_deadline = sp->deadline_ns, .sched_period = sp->period_ns,
        };
        return syscall(SYS_sched_setattr, 0, &a, 0) < 0 ? -errno : 0;
    }
    default: return -EINVAL;
    }
    return sched_setscheduler(0, policy, &p) < 0 ? -errno : 0;
}
