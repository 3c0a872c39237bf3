/*
 * notifier.c - Region.fileno(): an eventfd that a helper thread makes
 * readable each time the bridge publishes a change.
 *
 * libhalmk wakes waiters with a futex, which has no file descriptor, so a
 * thread blocks in hmk_wait_change (in the kernel, no polling) and bumps
 * the eventfd. To end the thread (the region is closed) it is interrupted
 * with a real-time signal whose handler does nothing: the wait returns
 * -EINTR and the thread sees its stop flag. The signal is sent again until
 * the thread is joined, which closes the race of a signal arriving just
 * before the thread enters its wait. The thread blocks every other signal,
 * so Python's handlers keep running in the main thread.
 */
#include "halmk_py.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct hmkpy_notifier {
    const hmk_region *r;
    int efd;
    pthread_t thread;
    atomic_bool stop;
};

static int wake_signal(void)
{
    return SIGRTMIN + 3; /* ours alone: see hmkpy_notifier_start */
}

static void on_wake(int sig)
{
    (void)sig; /* only there so the signal interrupts the futex wait */
}

static void *notifier_main(void *arg)
{
    struct hmkpy_notifier *n = arg;
    uint32_t seq = hmk_change_seq(n->r);
    const uint64_t one = 1;
    sigset_t only;

    sigfillset(&only);
    sigdelset(&only, wake_signal());
    pthread_sigmask(SIG_SETMASK, &only, NULL);
    while (!atomic_load(&n->stop)) {
        int ret = hmk_wait_change(n->r, &seq, -1);
        if (ret == 0 || ret == -ESTALE) {
            /* the counter saturates, never blocks: EAGAIN is harmless */
            if (write(n->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                break;
            if (ret == -ESTALE)
                break; /* readable for good: the owner sees Stale */
        } else if (ret != -EINTR) {
            break;
        }
    }
    return NULL;
}

int hmkpy_notifier_start(const hmk_region *r, struct hmkpy_notifier **out)
{
    struct hmkpy_notifier *n = calloc(1, sizeof(*n));
    struct sigaction sa = {0}, old;
    sigset_t all, prev;
    int ret;

    if (!n)
        return -ENOMEM;
    /* install our no-op handler unless the program already handles it */
    if (sigaction(wake_signal(), NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
        sa.sa_handler = on_wake; /* no SA_RESTART: the wait must return */
        sigemptyset(&sa.sa_mask);
        sigaction(wake_signal(), &sa, NULL);
    }
    n->r = r;
    atomic_init(&n->stop, false);
    n->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (n->efd < 0) {
        ret = -errno;
        free(n);
        return ret;
    }
    /* the thread starts with every signal blocked, then opens only ours */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &prev);
    ret = -pthread_create(&n->thread, NULL, notifier_main, n);
    pthread_sigmask(SIG_SETMASK, &prev, NULL);
    if (ret < 0) {
        close(n->efd);
        free(n);
        return ret;
    }
    *out = n;
    return 0;
}

int hmkpy_notifier_fd(const struct hmkpy_notifier *n)
{
    return n->efd;
}

void hmkpy_notifier_drain(struct hmkpy_notifier *n)
{
    uint64_t v;
    while (read(n->efd, &v, sizeof(v)) > 0)
        ;
}

void hmkpy_notifier_stop(struct hmkpy_notifier *n)
{
    if (!n)
        return;
    atomic_store(&n->stop, true);
    for (;;) {
        struct timespec ts;
        pthread_kill(n->thread, wake_signal());
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        if (pthread_timedjoin_np(n->thread, NULL, &ts) == 0)
            break;
    }
    close(n->efd);
    free(n);
}
