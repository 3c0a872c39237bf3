/*
 * reap.h - collecting exited children. SIGCHLD does not queue, and as a
 * child subreaper the daemon also inherits processes its services
 * double-forked; so after every SIGCHLD (or pidfd wake-up) it loops until no
 * child is waitable. Services are reaped by the caller through their pidfd
 * (so the exit status lands with the right service); anything else is an
 * orphan, reaped here by pid. Library-style: no logging.
 */
#ifndef HMK_REAP_H
#define HMK_REAP_H

#include <stdbool.h>
#include <sys/types.h>

struct reap_ops {
    /* true if pid is a service's main process */
    bool (*is_service)(void *ctx, pid_t pid);
    /* reap that service (waitid on its pidfd) and handle its exit; returns
     * <0 if it could not reap it */
    int (*service_exited)(void *ctx, pid_t pid);
    /* an orphan was reaped (for a debug line) */
    void (*orphan_reaped)(void *ctx, pid_t pid);
};

/* Returns the number of children reaped (services + orphans), or -errno if
 * waiting failed for another reason than "no children". */
int reap_children(const struct reap_ops *ops, void *ctx);

#endif
