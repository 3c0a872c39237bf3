/*
 * halmk_service.h - the service framework: a service declares the pins it
 * reads and writes and gets handlers called on changes; attach, re-attach
 * after a LinuxCNC restart, readiness, clean shutdown and write
 * transactions come with it.
 *
 * Contract
 *  - Context: a non-realtime service process started by the hal-microkernel
 *    daemon (or by hand). One hmk_svc_run() per process, from main().
 *  - hmk_svc_run() never prints. It returns 0 after SIGTERM/SIGINT (clean
 *    shutdown: on_stop was called, the last transaction committed, the
 *    region closed), or a negative errno with one sentence in `err` naming
 *    what failed (e.g. "pin 'spindle.speed': no such pin in region
 *    'hal-microkernel'"). The caller prints it once and exits non-zero.
 *  - Handlers run in the service's one thread. They may block (file I/O,
 *    network, sleep): HAL never waits for them. A handler returning < 0
 *    stops the loop and hmk_svc_run returns that value.
 *  - Values staged with hmk_svc_set() during one round of handlers (the
 *    on_change calls for one wake-up, or one on_tick) are committed together
 *    as one transaction after the round (they reach HAL in the same servo
 *    cycle); hmk_svc_commit() commits earlier.
 *  - Signals: the framework handles SIGTERM and SIGINT (and uses SIGALRM
 *    after them, to close a race with its waits); a service must not use
 *    alarm() for itself.
 *  - Write permission: the daemon passes the pins a service may write in
 *    $HMK_WRITE_PINS (comma-separated region names). When it is set, pins
 *    outside it cannot be declared in `writes` (-EPERM), and a service with
 *    no writes maps the region read-only, so the kernel refuses writes too.
 *  - Readiness: after the first attach, once it is subscribed to changes
 *    (stream mode) and has handled the pins' first values (on_attach and
 *    the first round), the framework calls hmk_ready(), which tells the
 *    daemon the service is up (see hal-microkernel(8)): a change after that
 *    is never missed.
 */
#ifndef HALMK_SERVICE_H
#define HALMK_SERVICE_H

#include "halmk.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hmk_svc hmk_svc;

struct hmk_svc_def {
    const char *name;                 /* service name, for messages */
    const char *region;               /* NULL: $HAL_MICROKERNEL_REGION or default */
    const char *const *reads;         /* NULL-terminated; in values to watch */
    const char *const *writes;        /* NULL-terminated; out values written */
    /* after every (re)attach, before the first on_change; optional */
    int (*on_attach)(hmk_svc *s, void *user);
    /* read pin `slot` (index into reads) has value v; called once for
     * every read pin after each attach, then for each change */
    int (*on_change)(hmk_svc *s, unsigned slot, const hmk_value *v, uint64_t cycle, void *user);
    /* every period_ms without changes, if period_ms > 0; optional */
    int (*on_tick)(hmk_svc *s, void *user);
    /* on SIGTERM/SIGINT, before the last commit; optional */
    void (*on_stop)(hmk_svc *s, void *user);
    /* stream mode only: `count` changes were lost because the service fell
     * more than the bridge's stream_depth records behind; optional */
    int (*on_lost)(hmk_svc *s, uint64_t count, void *user);
    int period_ms;
    /* false: on_change gets the latest value of each changed pin per wake
     * (state). true: on_change gets every change, in order, with the cycle
     * it happened in, from the bridge's change stream (events: a pulse of
     * one servo cycle is seen), and on_lost says exactly what was missed. */
    bool stream;
    void *user;
};

/* Runs the service until SIGTERM/SIGINT, hmk_svc_stop() or a handler's
 * error (returns, errors: see Contract above). */
int hmk_svc_run(const struct hmk_svc_def *def, char *err, size_t errlen);

/* Stage the value of write pin `slot` (index into writes). Type-checked;
 * the _float and _bit forms are hmk_svc_set with a value of that type. */
int hmk_svc_set(hmk_svc *s, unsigned slot, const hmk_value *v);
int hmk_svc_set_float(hmk_svc *s, unsigned slot, double f);
int hmk_svc_set_bit(hmk_svc *s, unsigned slot, bool b);
/* Commits what is staged now rather than after the round; 0 or -errno. */
int hmk_svc_commit(hmk_svc *s);
/* Current value of read pin `slot` / the region handle (valid until the
 * next re-attach) / the service's pin info. */
int hmk_svc_get(hmk_svc *s, unsigned slot, hmk_value *v);
hmk_region *hmk_svc_region(hmk_svc *s);
int hmk_svc_read_info(hmk_svc *s, unsigned slot, struct hmk_pin_info *info);
int hmk_svc_write_info(hmk_svc *s, unsigned slot, struct hmk_pin_info *info);
/* Ask the loop to end as after SIGTERM (from a handler). */
void hmk_svc_stop(hmk_svc *s);
/* Change the on_tick period from a handler (starts as def->period_ms);
 * <= 0 stops ticking, so an idle service sets no timer at all. */
void hmk_svc_set_period(hmk_svc *s, int period_ms);

/* Tell the supervising daemon this service is ready: writes "READY=1\n" to
 * the fd named by $HMK_READY_FD and closes it. 0 if there is no such fd
 * (not under the daemon, or ready = none), -errno on failure. */
int hmk_ready(void);

/* Reaction-time telemetry (the daemon's `deadline =`, shown by
 * hal-microkernelctl stats): records that a change the bridge stamped at
 * stamp_ns (CLOCK_MONOTONIC: struct hmk_event.time_ns, or
 * hmk_stats.bridge_time_ns when woken by it) has now been acted on. The
 * framework records every change it hands to on_change, after the round's
 * commit: in stream mode from the change's own cycle stamp, in state mode
 * from the latest stamp at the wake (a lower bound when the service woke
 * cycles after the change). Other clients opt in by calling this. Returns 1 when the reaction missed the deadline,
 * else 0 (also outside the daemon, or for stamp_ns 0). No lock, no system
 * call but clock_gettime (and one mmap on the first call). */
int hmk_reaction(uint64_t stamp_ns);

/* Waits until an in value of one of pins[0..n) changed in a bridge cycle
 * after *since, the region detaches (-ESTALE), timeout_ms passes
 * (-ETIMEDOUT; < 0 waits forever) or a signal arrives (-EINTR). On success
 * returns how many of the pins changed, marks them in changed[] (n entries,
 * may be NULL) and advances *since. Start with *since = 0 to get every pin
 * that ever changed, or hmk_cycle() for "from now on". Blocks in the kernel. */
int hmk_wait(const hmk_region *r, const unsigned *pins, unsigned n, uint64_t *since,
             int timeout_ms, bool *changed);
/* Latest published bridge cycle. */
uint64_t hmk_cycle(const hmk_region *r);

/* Waits without polling (inotify on /dev/shm) until region `name` can be
 * opened, or timeout_ms passes (-ETIMEDOUT), or a signal (-EINTR). */
int hmk_open_wait(const char *name, unsigned flags, int timeout_ms, hmk_region **out);

#ifdef __cplusplus
}
#endif
#endif
