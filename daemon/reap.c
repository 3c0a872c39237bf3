/* reap.c - see reap.h */
#include "reap.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

int reap_children(const struct reap_ops *ops, void *ctx)
{
    int n = 0;

    for (;;) {
        siginfo_t si;

        memset(&si, 0, sizeof(si));
        /* WNOWAIT: look first, so a service's status is collected through
         * its own pidfd below and never by this generic loop */
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
            if (errno == ECHILD)
                return n;
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (si.si_pid == 0)
            return n; /* children exist, none has exited */
        if (ops->is_service(ctx, si.si_pid)) {
            if (ops->service_exited(ctx, si.si_pid) < 0)
                return -ECHILD; /* would loop forever on the same child */
        } else {
            if (waitpid(si.si_pid, NULL, WNOHANG) <= 0)
                return -ECHILD;
            if (ops->orphan_reaped)
                ops->orphan_reaped(ctx, si.si_pid);
        }
        n++;
    }
}
