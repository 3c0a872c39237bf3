/*
 * svc_fsm.c - see svc_fsm.h. The table is written out cell by cell on
 * purpose: every (state, event) pair has one visible answer.
 */
#include "svc_fsm.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "cfg.h"

static const char *const state_names[SVC_STATE_COUNT] = {
    [SVC_STOPPED] = "stopped", [SVC_STARTING] = "starting", [SVC_RUNNING] = "running",
    [SVC_STOPPING] = "stopping", [SVC_BACKOFF] = "backoff", [SVC_FAILED] = "failed",
};

const char *svc_state_name(enum svc_state s)
{
    return (unsigned)s < SVC_STATE_COUNT ? state_names[s] : "?";
}

int svc_state_parse(const char *s)
{
    for (int i = 0; i < SVC_STATE_COUNT; i++)
        if (!strcmp(s, state_names[i]))
            return i;
    return -EINVAL;
}

/* What happens when the main process goes away while we wanted it. */
static struct svc_step exited_unexpectedly(const struct svc_exit_info *x)
{
    if (x->exec_failed) /* retrying cannot help: report, do not crash-loop */
        return (struct svc_step){ SVC_FAILED, SVC_ACT_GOAL_DOWN };
    if (x->restart == CFG_RESTART_NO || (x->restart == CFG_RESTART_ON_FAILURE && x->clean))
        return (struct svc_step){ SVC_STOPPED, SVC_ACT_GOAL_DOWN };
    if (x->crash_limit_hit)
        return (struct svc_step){ SVC_FAILED, SVC_ACT_GOAL_DOWN };
    return (struct svc_step){ SVC_BACKOFF, SVC_ACT_ARM_BACKOFF };
}

bool svc_fsm_exit_unwanted(enum svc_state s, const struct svc_exit_info *x)
{
    return s == SVC_STARTING || s == SVC_RUNNING || (s == SVC_STOPPING && x->not_ready && x->goal_up);
}

struct svc_step svc_fsm_step(enum svc_state s, enum svc_event e, const struct svc_exit_info *x)
{
    static const struct svc_exit_info none;
    const struct svc_step same = { s, 0 };
    /* by hand out of backoff or failed: at once, with a clean slate */
    const struct svc_step start_now = { SVC_STARTING, SVC_ACT_RESET_CRASHES | SVC_ACT_SPAWN |
                                                      (s == SVC_BACKOFF ? SVC_ACT_CANCEL_TIMER : 0) };
    const struct svc_step term = { SVC_STOPPING, SVC_ACT_TERM | SVC_ACT_ARM_STOP };

    if (!x)
        x = &none;
    switch (s) {
    case SVC_STOPPED:
        switch (e) {
        case SVC_EV_UP: return (struct svc_step){ SVC_STARTING, SVC_ACT_SPAWN };
        case SVC_EV_DOWN: return same;
        case SVC_EV_START: return same;   /* UP follows once its after= run */
        case SVC_EV_STOP: return same;
        case SVC_EV_RESTART: return same; /* as START */
        case SVC_EV_RECONFIGURE: return (struct svc_step){ SVC_STOPPED, SVC_ACT_TAKE_CFG };
        case SVC_EV_READY: return same;
        case SVC_EV_EXIT: return same;  /* stale: nothing runs */
        case SVC_EV_TIMER: return same;
        default: break;
        }
        break;
    case SVC_STARTING:
    case SVC_RUNNING:
        switch (e) {
        case SVC_EV_UP: return same;
        case SVC_EV_DOWN: return term;
        case SVC_EV_START: return same;
        case SVC_EV_STOP: return same;    /* DOWN follows once its dependents are down */
        case SVC_EV_RESTART: return term; /* EXIT with the goal up respawns */
        case SVC_EV_RECONFIGURE: return term; /* ... and the spawn takes next_cfg */
        case SVC_EV_READY:
            if (s == SVC_STARTING)
                return (struct svc_step){ SVC_RUNNING, SVC_ACT_CANCEL_TIMER }; /* the ready-timeout */
            return same;
        case SVC_EV_EXIT: return exited_unexpectedly(x);
        case SVC_EV_TIMER:
            if (s == SVC_STARTING) /* ready-timeout: stop it, then the restart policy */
                return (struct svc_step){ SVC_STOPPING, SVC_ACT_NOT_READY | SVC_ACT_TERM | SVC_ACT_ARM_STOP };
            return same;
        default: break;
        }
        break;
    case SVC_STOPPING:
        switch (e) {
        case SVC_EV_UP: return same;     /* goal is up again: EXIT below respawns */
        case SVC_EV_DOWN: return same;
        case SVC_EV_START: return same;
        case SVC_EV_STOP: return same;
        case SVC_EV_RESTART: return same;
        case SVC_EV_RECONFIGURE: return same; /* the respawn at EXIT takes next_cfg */
        case SVC_EV_READY: return same;
        case SVC_EV_EXIT:
            if (!x->goal_up)
                return (struct svc_step){ SVC_STOPPED, SVC_ACT_CANCEL_TIMER };
            if (x->not_ready) { /* a failed start, not a stop by hand */
                struct svc_step st = exited_unexpectedly(x);
                st.actions |= SVC_ACT_CANCEL_TIMER;
                return st;
            }
            return (struct svc_step){ SVC_STARTING, SVC_ACT_CANCEL_TIMER | SVC_ACT_SPAWN };
        case SVC_EV_TIMER: return (struct svc_step){ SVC_STOPPING, SVC_ACT_KILL }; /* escalate */
        default: break;
        }
        break;
    case SVC_BACKOFF:
        switch (e) {
        case SVC_EV_UP: return same;     /* its timer restarts it */
        case SVC_EV_DOWN: return (struct svc_step){ SVC_STOPPED, SVC_ACT_CANCEL_TIMER };
        case SVC_EV_START: return start_now; /* do not wait out the backoff */
        case SVC_EV_STOP: return same;   /* DOWN follows */
        case SVC_EV_RESTART: return start_now;
        case SVC_EV_RECONFIGURE:
            return (struct svc_step){ SVC_STOPPED, SVC_ACT_CANCEL_TIMER | SVC_ACT_TAKE_CFG };
        case SVC_EV_READY: return same;
        case SVC_EV_EXIT: return same;
        case SVC_EV_TIMER:
            return (struct svc_step){ SVC_STARTING, SVC_ACT_COUNT_RESTART | SVC_ACT_SPAWN };
        default: break;
        }
        break;
    case SVC_FAILED:
        switch (e) {
        case SVC_EV_UP: return same;     /* only by hand */
        case SVC_EV_DOWN: return same;   /* stays failed: what happened stays shown */
        case SVC_EV_START: return start_now;
        case SVC_EV_STOP: return (struct svc_step){ SVC_STOPPED, 0 };
        case SVC_EV_RESTART: return start_now;
        case SVC_EV_RECONFIGURE: return (struct svc_step){ SVC_STOPPED, SVC_ACT_TAKE_CFG };
        case SVC_EV_READY: return same;
        case SVC_EV_EXIT: return same;
        case SVC_EV_TIMER: return same;
        default: break;
        }
        break;
    default:
        break;
    }
    return same;
}

uint64_t svc_backoff_ms(uint64_t initial_ms, double factor, uint64_t max_ms, unsigned consecutive)
{
    double d = (double)initial_ms;

    for (unsigned i = 0; i < consecutive && d < (double)max_ms; i++)
        d *= factor;
    if (d >= (double)max_ms)
        return max_ms;
    return cfg_round_u64(d);
}

void svc_crash_reset(struct svc_crashes *c)
{
    c->n = 0;
    c->head = 0;
}

bool svc_crash_record(struct svc_crashes *c, uint64_t window_ms, uint64_t now_ms)
{
    unsigned in_window = 0;

    if (c->limit == 0)
        return false;
    /* crashes before this one that are still inside the window */
    for (unsigned i = 0; i < c->n; i++)
        if (now_ms - c->t_ms[i] < window_ms)
            in_window++;
    c->t_ms[c->head] = now_ms;
    c->head = (c->head + 1) % c->limit;
    if (c->n < c->limit)
        c->n++;
    return in_window >= c->limit;
}
