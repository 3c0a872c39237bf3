/*
 * waiters - N threads of one read-only client, each blocked in
 * hmk_wait_change() in a loop, until SIGTERM; then prints the wake-ups they
 * saw. bench/run.sh row 7 measures the bridge's worst cycle beside it: the
 * bridge's cost must not grow with N.
 *
 *   waiters N
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "halmk.h"

static hmk_region *r;
static atomic_ulong wakes;
static atomic_bool stop;

static void *waiter(void *arg)
{
    uint32_t seq = hmk_change_seq(r);

    (void)arg;
    while (!atomic_load(&stop))
        if (hmk_wait_change(r, &seq, 200) == 0)
            atomic_fetch_add(&wakes, 1);
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc == 2 ? atoi(argv[1]) : -1, ret, sig;
    pthread_t *t;
    pthread_attr_t a;
    sigset_t set;

    if (n < 1 || n > 10000) {
        fprintf(stderr, "usage: waiters N (1..10000)\n");
        return 2;
    }
    ret = hmk_open(NULL, HMK_OPEN_RDONLY, &r);
    if (ret < 0) {
        fprintf(stderr, "waiters: %s\n", hmk_strerror(ret));
        return 1;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    t = calloc((size_t)n, sizeof(*t));
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], &a, waiter, NULL) != 0) {
            fprintf(stderr, "waiters: cannot start thread %d\n", i);
            return 1;
        }
    printf("ready %d\n", n);
    fflush(stdout);
    sigwait(&set, &sig);
    atomic_store(&stop, true);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    printf("wakes %lu\n", (unsigned long)atomic_load(&wakes));
    hmk_close(r);
    free(t);
    return 0;
}
