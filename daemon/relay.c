/*
 * relay.c - see relay.h. One thread, two states:
 *   idle:  blocked in recv() on the poke socket; a poke arms the relay.
 *   armed: blocked on the relay word; each bridge wake is fanned out to
 *          every reader; a fan-out that woke nobody disarms.
 * Neither wait has a timeout (an idle daemon must not wake for nothing):
 * relay_stop shuts the socket down and bumps the relay word, which ends
 * either wait at once.
 */
#include "relay.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "halmk.h"
#include "halmk_priv.h"

struct relay {
    pthread_t thread;
    atomic_bool cancel;
    hmk_region *r;
    int sock;
};

static void drain_pokes(int sock)
{
    char b[1];

    while (recv(sock, b, sizeof(b), MSG_DONTWAIT) >= 0)
        ;
}

static void *relay_main(void *arg)
{
    struct relay *rl = arg;
    uint32_t seen = 0;
    bool armed = false;

    while (!atomic_load(&rl->cancel) && hmk_check(rl->r) == 0) {
        if (!armed) {
            char b[1];
            /* a poke is any datagram, even an empty one (recv gives 0);
             * relay_stop's shutdown gives 0 too, and sets cancel first */
            if (recv(rl->sock, b, sizeof(b), 0) < 0 || atomic_load(&rl->cancel))
                continue;
            drain_pokes(rl->sock);
            hmk_cap_relay_wait(rl->r, &seen, 0); /* the word as it is now */
            hmk_cap_relay_arm(rl->r, true);
            armed = true;
            continue;
        }
        if (hmk_cap_relay_wait(rl->r, &seen, -1) < 0 || atomic_load(&rl->cancel))
            continue;
        if (hmk_cap_fanout(rl->r) == 0) {
            /* nobody waited for this change: stop being woken, unless a
             * reader asked in the meantime */
            char b[1];
            if (recv(rl->sock, b, sizeof(b), MSG_DONTWAIT) >= 0) {
                drain_pokes(rl->sock);
                continue;
            }
            hmk_cap_relay_arm(rl->r, false);
            armed = false;
        }
    }
    return NULL;
}

struct relay *relay_start(const char *region, int *err)
{
    struct relay *rl = calloc(1, sizeof(*rl));
    struct sockaddr_un a;
    socklen_t len;
    sigset_t all, old;
    int ret;

    if (!rl) {
        *err = -ENOMEM;
        return NULL;
    }
    rl->sock = -1;
    ret = hmk_open(region, HMK_OPEN_RDONLY, &rl->r);
    if (ret == 0)
        ret = hmk_cap_attach(rl->r);
    if (ret == 0) {
        rl->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        hmk_poke_addr(region, &a, &len);
        if (rl->sock < 0 || bind(rl->sock, (struct sockaddr *)&a, len) < 0)
            ret = -errno;
    }
    if (ret == 0) {
        /* disarmed to begin with: whatever an earlier daemon left set */
        hmk_cap_relay_arm(rl->r, false);
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old); /* signals stay the main loop's */
        ret = -pthread_create(&rl->thread, NULL, relay_main, rl);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (ret < 0) {
        if (rl->sock >= 0)
            close(rl->sock);
        hmk_close(rl->r);
        free(rl);
        *err = ret;
        return NULL;
    }
    return rl;
}

void relay_stop(struct relay *rl)
{
    if (!rl)
        return;
    atomic_store(&rl->cancel, true);
    shutdown(rl->sock, SHUT_RDWR);  /* ends a recv(), now or later */
    hmk_cap_relay_kick(rl->r);      /* ends a relay wait, now or later */
    pthread_join(rl->thread, NULL);
    if (hmk_check(rl->r) == 0)
        hmk_cap_relay_arm(rl->r, false); /* readers fall back to their own slices */
    close(rl->sock);
    hmk_close(rl->r);
    free(rl);
}
