/*
 * svc_sched.h - a service's scheduling class: the `sched =` config value,
 * parsed at load and applied in the child between fork and exec.
 *
 *   sched = other | batch | idle | fifo:PRIO | rr:PRIO
 *         | deadline:RUNTIME/DEADLINE/PERIOD
 *
 * PRIO is 1..99 (SCHED_FIFO / SCHED_RR). RUNTIME, DEADLINE and PERIOD are
 * durations with a unit (ns, us, ms, s; no bare numbers: a deadline
 * scheduler's numbers are too easy to get wrong by 1000) with
 * RUNTIME <= DEADLINE <= PERIOD (SCHED_DEADLINE through sched_setattr).
 * The realtime classes (fifo, rr, deadline) are applied with
 * reset-on-fork: what the service forks runs as SCHED_OTHER, and a
 * deadline task may fork at all only so.
 *
 * Which CPUs are LinuxCNC's (rt-cpus) and what the kernel refuses are
 * judged by the caller: cfg_check.c refuses a realtime class that may run on
 * those CPUs; svc.c reports sched_apply()'s errno as one line. Library
 * style: -errno, never logs.
 */
#ifndef HMK_SVC_SCHED_H
#define HMK_SVC_SCHED_H

#include <stdbool.h>
#include <stdint.h>

enum sched_class {
    SCHED_CLASS_UNSET = 0, /* inherit the daemon's (normally SCHED_OTHER) */
    SCHED_CLASS_OTHER, SCHED_CLASS_BATCH, SCHED_CLASS_IDLE,
    SCHED_CLASS_FIFO, SCHED_CLASS_RR, SCHED_CLASS_DEADLINE,
};

struct sched_spec {
    enum sched_class cls;
    unsigned prio;                                /* fifo, rr: 1..99 */
    uint64_t runtime_ns, deadline_ns, period_ns;  /* deadline */
};

/* Parse a `sched =` value. -EINVAL bad syntax, -ERANGE out of range. */
int sched_parse(const char *s, struct sched_spec *out);
/* A duration with a unit (ns, us, ms, s), 1 ns to 100 s: "2ms", "1.5ms". */
int sched_parse_ns(const char *s, uint64_t *out);
/* fifo, rr and deadline: the classes that can starve others on a CPU */
bool sched_is_realtime(const struct sched_spec *sp);
bool sched_equal(const struct sched_spec *a, const struct sched_spec *b);
/* "fifo:10", "deadline:2ms/10ms/10ms", ... for messages */
void sched_format(const struct sched_spec *sp, char *buf, unsigned len);
/* Apply to the calling thread (the child before exec). 0 or -errno as the
 * kernel answered (EPERM, EINVAL, EBUSY for deadline admission). */
int sched_apply(const struct sched_spec *sp);

#endif
