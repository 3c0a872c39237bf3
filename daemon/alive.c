/* alive.c - see alive.h */
#include "alive.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "halmk_priv.h"

struct alive {
    pthread_t thread;
    hmk_region *r;
    int stop_fd;      /* eventfd: written once by alive_stop */
    sem_t held;       /* posted once the word is held */
    int err;          /* hmk_cap_hold_alive's result */
};

static void *alive_main(void *arg)
{
    struct alive *a = arg;
    uint64_t x;

    a->err = hmk_cap_hold_alive(a->r);
    sem_post(&a->held);
    /* this thread's only work is to exist: the kernel does the rest */
    while (read(a->stop_fd, &x, sizeof(x)) < 0 && errno == EINTR)
        ;
    hmk_cap_release_alive(a->r);
    return NULL;
}

struct alive *alive_start(hmk_region *r, int *err)
{
    struct alive *a = calloc(1, sizeof(*a));
    sigset_t all, old;
    int ret;

    *err = 0;
    if (!a) {
        *err = -ENOMEM;
        return NULL;
    }
    a->r = r;
    a->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (a->stop_fd < 0 || sem_init(&a->held, 0, 0) < 0) {
        *err = -errno;
        if (a->stop_fd >= 0)
            close(a->stop_fd);
        free(a);
        return NULL;
    }
    /* signals stay with the main thread's signalfd */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    ret = pthread_create(&a->thread, NULL, alive_main, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ret) {
        *err = -ret;
        sem_destroy(&a->held);
        close(a->stop_fd);
        free(a);
        return NULL;
    }
    while (sem_wait(&a->held) < 0 && errno == EINTR)
        ;
    *err = a->err;
    return a;
}

void alive_stop(struct alive *a)
{
    uint64_t one = 1;

    if (!a)
        return;
    if (write(a->stop_fd, &one, sizeof(one)) < 0) {
        /* an eventfd write of 1 cannot fail here */
    }
    pthread_join(a->thread, NULL);
    sem_destroy(&a->held);
    close(a->stop_fd);
    free(a);
}
