/*
 * adapter.h - mtconnect-adapter's one event loop and what its two halves
 * share.
 *
 * One thread, one epoll loop (mtc_net.c) over the listening socket, every
 * agent connection and one HAL descriptor: libhalmk's hmk_change_fd while
 * attached, an inotify watch on /dev/shm while waiting for the region. The
 * HAL half (mtconnect-adapter.c: hal_*) turns stream events into SHDR lines
 * in `struct hub`; the loop sends them out right after, and every client
 * socket is non-blocking with a bounded buffer, so no client can slow the
 * stream. Signals are blocked except inside epoll_pwait: a SIGTERM is seen
 * at once and never between a check and the wait.
 */
#ifndef MTC_ADAPTER_H
#define MTC_ADAPTER_H

#include <signal.h>

#include "mtc.h"

struct hub {
    const struct mtc_config *c;
    struct mtc_buf pending;         /* lines for every connected client */
    bool resync;                    /* pending overflowed: send snapshots instead */
    char (*val)[MTC_VAL_MAX];       /* current SHDR value of each item */
    char avail[16];                 /* AVAILABLE / UNAVAILABLE */
};

/* Upper bound on pending bytes between two sends (one loop round). */
#define HUB_PENDING_MAX (4u << 20)

/* The full state, as a client gets it on connect. */
int hub_snapshot(struct hub *h, uint64_t utc_ms, struct mtc_buf *out);

uint64_t mtc_utc_ms(void);
int64_t mtc_mono_ms(void);

/* The HAL half, driven by the loop. hal_watch_fd: the descriptor to poll
 * (-1: none) and, in *gen, a number that changes whenever it is another
 * one (a closed descriptor's number may come back). hal_ready: it was
 * readable; hal_tick: hal_timeout_ms (-1: never) passed. Both return 0, or
 * -errno with hal_error() saying why: the adapter stops. */
struct hal;
int hal_watch_fd(const struct hal *a, unsigned *gen);
int hal_ready(struct hal *a);
int hal_timeout_ms(const struct hal *a);
int hal_tick(struct hal *a);
const char *hal_error(const struct hal *a);

/* net_listen binds c->listen (logs nothing; err on failure; fd NULL: only
 * checks the address) and puts the address it bound (with the real port)
 * in `bound`. */
int net_listen(const struct mtc_config *c, int *fd, char *bound, size_t blen, char *err,
               size_t errlen);
/* The loop: until *stop (set by a signal, delivered only inside the wait:
 * `waitmask` is the mask during it) or an error; returns 0 or -errno (a
 * HAL error: hal_error() says why). */
int net_run(struct hub *h, int listen_fd, struct hal *a, volatile sig_atomic_t *stop,
            const sigset_t *waitmask);

void mtc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
