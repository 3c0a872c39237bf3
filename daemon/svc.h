/*
 * svc.h - starting and signalling a service's process.
 *
 * svc_spawn() forks, sets the child up (session, fds, nice, affinity, sched, rlimits,
 * groups, gid, uid, environment) and execs. Whether the exec happened is told
 * through a close-on-exec pipe: EOF means exec succeeded, a struct
 * svc_exec_report means the child gave up at `step` with `err` and exits 127.
 * Processes are signalled through their pidfd; by number only where the
 * number cannot name another process: a child not yet reaped when there
 * are no pidfds, or a group with an unreaped member on a kernel without
 * PIDFD_SIGNAL_PROCESS_GROUP (svc_signal_group).
 * Library-style: returns -errno, never logs.
 */
#ifndef HMK_SVC_H
#define HMK_SVC_H

#include <stdbool.h>
#include <sys/types.h>

#include "cfg.h"

#include "hmk_svc_abi.h"

#define SVC_READY_FD HMK_SVC_READY_FD         /* the ready pipe */
#define SVC_CHANNEL_FD HMK_SVC_CHANNEL_FD     /* its write channel */
#define SVC_TELEMETRY_FD HMK_SVC_TELEMETRY_FD /* its reaction-time block */

enum svc_step_id {
    SVC_STEP_SETUP = 1, SVC_STEP_NICE, SVC_STEP_AFFINITY, SVC_STEP_RLIMIT,
    SVC_STEP_GROUPS, SVC_STEP_SETGID, SVC_STEP_SETUID, SVC_STEP_EXEC,
    SVC_STEP_SCHED,
};

struct svc_exec_report {
    int step; /* enum svc_step_id */
    int err;  /* errno */
};

struct svc_proc {
    pid_t pid;
    int pidfd;     /* -1 only where pidfd_open is ENOSYS */
    int status_fd; /* read end of the exec-status pipe */
    int ready_fd;  /* read end of the ready pipe, -1 for ready = none */
};

/* Descriptors handed to the service (-1: none). The child gets them as
 * SVC_CHANNEL_FD / $HMK_CHANNEL_FD and SVC_TELEMETRY_FD /
 * $HMK_TELEMETRY_FD; the caller keeps and closes its own. */
struct svc_pass {
    int chan_fd;   /* its write channel (region_channel_fd) */
    int telem_fd;  /* its telemetry block (telemetry.h) */
};

/* Call once the daemon's signal dispositions are set (it ignores SIGPIPE;
 * its parent may have left others ignored): a child then resets only the
 * ignored ones before exec, not all 64. Without it, a child resets all. */
void svc_signals_init(void);

/* pass may be NULL: nothing handed over. */
int svc_spawn(const struct cfg_service *cfg, const char *region, const char *ctl,
              const struct svc_pass *pass, struct svc_proc *out);
/* "exec", "setuid", ... */
const char *svc_step_name(int step);
/* Whether the child gave up for want of something the machine may have again
 * shortly (descriptors, memory, processes: EMFILE, ENFILE, ENOMEM, EAGAIN), at
 * any step: then retrying is the cure, with the backoff and crash limit of a
 * crash. Any other report (a missing program, a refused uid or sched class)
 * stays wrong until the configuration changes. */
bool svc_report_transient(const struct svc_exec_report *rep);
/* Signal through the pidfd. Only where the kernel has no pidfds (ENOSYS,
 * also under valgrind) pidfd is -1 and the pid is used: still race-free,
 * because the daemon reaps its children itself and clears pid when it does,
 * so an unreaped child's pid cannot have been reused. */
int svc_signal(const struct svc_proc *p, int sig);
/* A service is its process group: it starts in a session of its own, so
 * the group's id is its main process's pid. Signals the whole group: through
 * the main process's pidfd where the kernel can (Linux >= 6.9; exact even
 * after the main process was reaped, while the pidfd stays open), else by
 * number, and then only while leader_unreaped (the main process is still our
 * unreaped child) or svc_group_pinned(): otherwise -ESRCH, as a number whose
 * members are all gone may already name someone else's group. sig 0 asks
 * whether anyone is left. 0, -ESRCH (nobody left) or -errno. */
int svc_signal_group(int pidfd, pid_t pgid, int sig, bool leader_unreaped);
/* Whether one of the caller's own children (unreaped, so its group's number
 * cannot be reused) is in process group pgid. A child subreaper inherits what
 * outlived a service's main process, so that is where the rest of it is. */
bool svc_group_pinned(pid_t pgid);
/* Build "K=V" environment: config env, HAL_MICROKERNEL_REGION, HMK_READY_FD
 * when ready = fd, HMK_WRITE_PINS when writes = is given. Caller frees with
 * cfg_strv_free. */
/* ctl: the daemon's control socket ("" or NULL: none), which libhalmk
 * asks for the service's channel again after the bridge was reloaded. */
int svc_build_env(const struct cfg_service *cfg, const char *region, const char *ctl,
                  const struct svc_pass *pass, char ***out);

#endif
