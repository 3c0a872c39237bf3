/*
 * svc_fsm.h - a service's lifecycle as an explicit state x event table, and
 * the restart arithmetic (backoff, crash-loop limit). Pure: no processes, no
 * clocks, no I/O, so every cell is unit-tested without forking.
 *
 * The caller (daemon/supervise.c) turns events from the event loop into
 * svc_fsm_step() calls and carries out the returned actions in the order
 * the bits are listed below.
 */
#ifndef HMK_SVC_FSM_H
#define HMK_SVC_FSM_H

#include <stdbool.h>
#include <stdint.h>

enum svc_state {
    SVC_STOPPED = 0, /* no process; goal down, or waiting for its after= services */
    SVC_STARTING,    /* process exists, not yet ready */
    SVC_RUNNING,     /* ready (or exec succeeded, for ready = none) */
    SVC_STOPPING,    /* SIGTERM sent, stop-timeout armed */
    SVC_BACKOFF,     /* crashed, restart timer armed */
    SVC_FAILED,      /* exec failed or crash-loop limit hit: left alone */
    SVC_STATE_COUNT
};

enum svc_event {
    /* from reconcile(), after every batch of events, whatever the state: */
    SVC_EV_UP = 0,    /* goal up and everything it is after= runs */
    SVC_EV_DOWN,      /* goal down and nothing after= it has a process any more */
    /* by hand (the control socket), the goal already set accordingly: */
    SVC_EV_START,     /* start: also out of backoff or failed, crash history forgotten */
    SVC_EV_STOP,      /* stop: also a failed one, which has no process (then stopped) */
    SVC_EV_RESTART,   /* restart: a running one stops and comes back (EXIT with goal up) */
    /* from reload: its configuration changed, the new one waits in next_cfg */
    SVC_EV_RECONFIGURE,
    /* from the process and the timer: */
    SVC_EV_READY,     /* ready reported (or exec succeeded for ready = none) */
    SVC_EV_EXIT,      /* the main process was reaped */
    SVC_EV_TIMER,     /* the service's timer fired (backoff, ready-timeout or stop-timeout) */
    SVC_EV_COUNT
};

/* Facts about an EXIT the table needs; ignored for other events. */
struct svc_exit_info {
    bool goal_up;       /* what the service should be doing now */
    bool exec_failed;   /* the child never got to exec (close-on-exec pipe) */
    bool clean;         /* exit status 0 */
    int restart;        /* enum cfg_restart */
    bool crash_limit_hit; /* svc_crash_record() said so for this crash */
    bool not_ready;     /* stopped because ready-timeout passed first */
};

enum svc_action {
    SVC_ACT_CANCEL_TIMER = 1u << 0,
    SVC_ACT_SPAWN = 1u << 1,        /* fork/exec; on failure the caller feeds EXIT{exec_failed} */
    SVC_ACT_TERM = 1u << 2,         /* SIGTERM through the pidfd */
    SVC_ACT_ARM_STOP = 1u << 3,     /* arm stop-timeout */
    SVC_ACT_KILL = 1u << 4,         /* SIGKILL through the pidfd */
    SVC_ACT_ARM_BACKOFF = 1u << 5,  /* arm svc_backoff_ms() */
    SVC_ACT_COUNT_RESTART = 1u << 6,/* restart counter++ (automatic restarts only) */
    SVC_ACT_GOAL_DOWN = 1u << 7,    /* the service stays down until started by hand */
    SVC_ACT_RESET_CRASHES = 1u << 8,/* manual start: forget the crash history */
    SVC_ACT_NOT_READY = 1u << 9,    /* ready-timeout passed: say so; its exit is a failed start */
    SVC_ACT_TAKE_CFG = 1u << 10,    /* no process: next_cfg becomes its configuration now */
};

struct svc_step {
    enum svc_state next;
    unsigned actions;
};

struct svc_step svc_fsm_step(enum svc_state s, enum svc_event e, const struct svc_exit_info *x);
/* Whether an EXIT in state s ends a run that was wanted (a crash, a clean
 * exit or a failed start, judged by the restart policy) rather than a stop
 * asked for: the caller logs and counts crashes by the same rule. */
bool svc_fsm_exit_unwanted(enum svc_state s, const struct svc_exit_info *x);
const char *svc_state_name(enum svc_state s);
/* "running" -> SVC_RUNNING; -EINVAL if unknown */
int svc_state_parse(const char *s);

/* Backoff before restart number `consecutive` (0 = first crash):
 * min(initial * factor^consecutive, max). Never overflows. */
uint64_t svc_backoff_ms(uint64_t initial_ms, double factor, uint64_t max_ms, unsigned consecutive);

/* Crash-loop window: the daemon remembers the times of the last `limit`
 * crashes. A service may crash `limit` times within `window_ms` and be
 * restarted; the (limit+1)-th crash inside the window makes it failed.
 * limit 0 = never. */
#define SVC_CRASH_MAX 1000u
struct svc_crashes {
    uint64_t *t_ms; /* ring of the last `limit` crash times, caller-allocated */
    unsigned limit;
    unsigned n;     /* entries used */
    unsigned head;  /* next slot to write */
};
/* Records a crash at now_ms; true when the limit is now exceeded. */
bool svc_crash_record(struct svc_crashes *c, uint64_t window_ms, uint64_t now_ms);
void svc_crash_reset(struct svc_crashes *c);

#endif
