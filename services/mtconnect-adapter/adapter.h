/*
 * adapter.h - mtconnect-adapter's two threads and what they share.
 *
 * Why two threads: the change stream blocks in a futex (no file
 * descriptor to put in an event loop), and the network needs epoll. The HAL
 * thread (main) reads the stream and formats SHDR lines; the network thread
 * owns every socket and never blocks on one. They share only `struct hub`
 * under one mutex: the current value of every item (for snapshots) and the
 * lines not yet fanned out. Neither thread ever waits for the other beyond
 * that short lock, so no client can slow the stream.
 */
#ifndef MTC_ADAPTER_H
#define MTC_ADAPTER_H

#include <pthread.h>
#include <stdatomic.h>

#include "mtc.h"

struct hub {
    pthread_mutex_t lock;
    int wake_fd;                    /* eventfd: lines pending, or stop */
    const struct mtc_config *c;
    /* under lock: */
    struct mtc_buf pending;         /* lines for every connected client */
    bool resync;                    /* pending overflowed: send snapshots instead */
    char (*val)[MTC_VAL_MAX];       /* current SHDR value of each item */
    char avail[16];                 /* AVAILABLE / UNAVAILABLE */
    atomic_bool stop;
};

/* Upper bound on pending bytes between two network wake-ups. */
#define HUB_PENDING_MAX (4u << 20)

void hub_lock(struct hub *h);
/* Unlock and wake the network thread. */
void hub_unlock_wake(struct hub *h);
/* Under the lock: the full state, as a client gets it on connect. */
int hub_snapshot(struct hub *h, uint64_t utc_ms, struct mtc_buf *out);

uint64_t mtc_utc_ms(void);
int64_t mtc_mono_ms(void);

/* Network thread. net_listen binds c->listen (logs nothing; err on failure;
 * fd NULL: only checks the address)
 * and puts the address it bound (with the real port) in `bound`. */
int net_listen(const struct mtc_config *c, int *fd, char *bound, size_t blen, char *err,
               size_t errlen);
/* Runs until hub->stop; returns 0 or -errno. */
void *net_thread(void *hub_and_fd);

struct net_args {
    struct hub *hub;
    int listen_fd;
    int ret;
};

void mtc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
