/*
 * test_queue.c - message queues: order, sizes, full/empty, timeouts and
 * wake-ups, 10^6 messages from 4 producers with none lost or duplicated,
 * and senders/receivers SIGKILLed mid-operation (forked processes) without
 * corrupting or wedging the queue.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "halmk.h"

struct msg {
    uint32_t producer;
    uint32_t seq;
    uint64_t check; /* producer * 2^32 + seq, scrambled: a torn message fails it */
};

static uint64_t msg_check(uint32_t p, uint32_t s)
{
    return ((uint64_t)p << 32 | s) * 0x9e3779b97f4a7c15ull;
}

static char qname[64];

static int setup(void **state)
{
    (void)state;
    snprintf(qname, sizeof(qname), "test-%ld-%d", (long)getpid(), rand());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hmk_queue_unlink(qname);
    return 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_queue_create_open_errors(void **state)
{
    hmk_queue *q = NULL;
    char buf[8];

    (void)state;
    assert_int_equal(hmk_queue_open(qname, &q), -ENOENT);
    assert_int_equal(hmk_queue_create("bad/name", 4, 8, 0600), -EINVAL);
    assert_int_equal(hmk_queue_create(qname, 0, 8, 0600), -ERANGE);
    assert_int_equal(hmk_queue_create(qname, 4, 8, 0600), 0);
    assert_int_equal(hmk_queue_open(qname, &q), 0);
    assert_int_equal(hmk_queue_send(q, "kept", 4, 0), 0);
    /* same geometry again: kept, with its message; another geometry: refused */
    assert_int_equal(hmk_queue_create(qname, 4, 8, 0600), 0);
    assert_int_equal(hmk_queue_create(qname, 8, 8, 0600), -EEXIST);
    assert_int_equal(hmk_queue_recv(q, buf, sizeof(buf), 0), 4);
    assert_memory_equal(buf, "kept", 4);
    hmk_queue_close(q);
}

static void test_queue_order_sizes_full_empty(void **state)
{
    struct hmk_queue_stats st;
    hmk_queue *q;
    char buf[16], big[17] = { 0 };
    uint64_t t0;

    (void)state;
    assert_int_equal(hmk_queue_create(qname, 3, 16, 0600), 0);
    assert_int_equal(hmk_queue_open(qname, &q), 0);
    assert_int_equal(hmk_queue_recv(q, buf, sizeof(buf), 0), -EAGAIN);
    assert_int_equal(hmk_queue_send(q, big, sizeof(big), 0), -EMSGSIZE);
    assert_int_equal(hmk_queue_send(q, "a", 1, 0), 0);
    assert_int_equal(hmk_queue_send(q, "bb", 2, 0), 0);
    assert_int_equal(hmk_queue_send(q, "ccc", 3, 0), 0);
    assert_int_equal(hmk_queue_send(q, "d", 1, 0), -EAGAIN);
    t0 = now_ms();
    assert_int_equal(hmk_queue_send(q, "d", 1, 50), -ETIMEDOUT);
    assert_true(now_ms() - t0 >= 40);
    hmk_queue_stats(q, &st);
    assert_int_equal(st.queued, 3);
    /* a short buffer: refused, the message stays */
    assert_int_equal(hmk_queue_recv(q, buf, 0, 0), -EMSGSIZE);
    assert_int_equal(hmk_queue_recv(q, buf, sizeof(buf), 0), 1);
    assert_memory_equal(buf, "a", 1);
    assert_int_equal(hmk_queue_recv(q, buf, sizeof(buf), 0), 2);
    assert_memory_equal(buf, "bb", 2);
    assert_int_equal(hmk_queue_recv(q, buf, sizeof(buf), 0), 3);
    assert_memory_equal(buf, "ccc", 3);
    t0 = now_ms();
    assert_int_equal(hmk_queue_recv(q, buf, sizeof(buf), 50), -ETIMEDOUT);
    assert_true(now_ms() - t0 >= 40);
    hmk_queue_close(q);
}

static void *send_later(void *arg)
{
    hmk_queue *q = arg;
    struct timespec ts = { 0, 20000000 };

    nanosleep(&ts, NULL); /* gives the receiver time to block; either order passes */
    hmk_queue_send(q, "wake", 4, -1);
    return NULL;
}

static void test_queue_blocking_recv_wakes(void **state)
{
    hmk_queue *q;
    pthread_t t;
    char buf[8];

    (void)state;
    assert_int_equal(hmk_queue_create(qname, 2, 8, 0600), 0);
    assert_int_equal(hmk_queue_open(qname, &q), 0);
    pthread_create(&t, NULL, send_later, q);
    assert_int_equal(hmk_queue_recv(q, buf, sizeof(buf), 5000), 4);
    pthread_join(t, NULL);
    hmk_queue_close(q);
}

#define PRODUCERS 4
#define PER_PRODUCER 250000u

struct producer {
    hmk_queue *q;
    uint32_t id;
};

static void *produce(void *arg)
{
    struct producer *p = arg;

    for (uint32_t s = 0; s < PER_PRODUCER; s++) {
        struct msg m = { p->id, s, msg_check(p->id, s) };
        if (hmk_queue_send(p->q, &m, sizeof(m), 10000) < 0)
            return (void *)1;
    }
    return NULL;
}

static void test_queue_million_messages_none_lost_or_duplicated(void **state)
{
    struct producer prod[PRODUCERS];
    pthread_t t[PRODUCERS];
    uint32_t next[PRODUCERS] = { 0 };
    hmk_queue *q;
    uint64_t got = 0;

    (void)state;
    assert_int_equal(hmk_queue_create(qname, 256, sizeof(struct msg), 0600), 0);
    assert_int_equal(hmk_queue_open(qname, &q), 0);
    for (int i = 0; i < PRODUCERS; i++) {
        prod[i] = (struct producer){ q, (uint32_t)i };
        pthread_create(&t[i], NULL, produce, &prod[i]);
    }
    while (got < (uint64_t)PRODUCERS * PER_PRODUCER) {
        struct msg m;
        assert_int_equal(hmk_queue_recv(q, &m, sizeof(m), 10000), (int)sizeof(m));
        assert_true(m.producer < PRODUCERS);
        assert_true(m.check == msg_check(m.producer, m.seq));
        /* per producer: in order, none skipped, none twice */
        assert_int_equal(m.seq, next[m.producer]);
        next[m.producer]++;
        got++;
    }
    for (int i = 0; i < PRODUCERS; i++)
        assert_null(pthread_join(t[i], NULL) == 0 ? NULL : (void *)1);
    assert_int_equal(hmk_queue_recv(q, &got, sizeof(got), 0), -EAGAIN);
    hmk_queue_close(q);
}

static void random_pause(unsigned max_us)
{
    struct timespec ts = { 0, (long)(rand() % max_us) * 1000L };
    nanosleep(&ts, NULL);
}

/* Senders SIGKILLed at random moments, 60 times; the parent receives. */
static void test_queue_sender_killed_mid_send(void **state)
{
    uint32_t next[61] = { 0 };
    struct hmk_queue_stats st;
    hmk_queue *q;
    uint64_t got = 0;

    (void)state;
    assert_int_equal(hmk_queue_create(qname, 8, sizeof(struct msg), 0600), 0);
    assert_int_equal(hmk_queue_open(qname, &q), 0);
    for (uint32_t k = 1; k <= 60; k++) {
        pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            for (uint32_t s = 0;; s++) {
                struct msg m = { k, s, msg_check(k, s) };
                if (hmk_queue_send(q, &m, sizeof(m), 2000) < 0)
                    _exit(3);
            }
        }
        /* receive a while, kill at a random moment, drain what is there */
        for (int i = rand() % 200; i > 0; i--) {
            struct msg m;
            if (hmk_queue_recv(q, &m, sizeof(m), 2000) != (int)sizeof(m))
                break;
            assert_true(m.check == msg_check(m.producer, m.seq));
            assert_int_equal(m.seq, next[m.producer]);
            next[m.producer]++;
            got++;
        }
        random_pause(300);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        for (;;) {
            struct msg m;
            int n = hmk_queue_recv(q, &m, sizeof(m), 0);
            if (n == -EAGAIN)
                break;
            assert_int_equal(n, (int)sizeof(m));
            assert_true(m.check == msg_check(m.producer, m.seq));
            assert_int_equal(m.seq, next[m.producer]);
            next[m.producer]++;
            got++;
        }
    }
    /* not wedged: a send and a receive still work */
    struct msg m = { 99, 0, msg_check(99, 0) };
    assert_int_equal(hmk_queue_send(q, &m, sizeof(m), 1000), 0);
    assert_int_equal(hmk_queue_recv(q, &m, sizeof(m), 1000), (int)sizeof(m));
    assert_int_equal(m.producer, 99);
    hmk_queue_stats(q, &st);
    print_message("sender kills: 60, messages %llu, lock recoveries %llu\n",
                  (unsigned long long)got, (unsigned long long)st.recoveries);
    hmk_queue_close(q);
}

/* Receivers SIGKILLed at random moments: the queue goes on, in order. Per
 * kill, only the message in flight can be affected: redelivered (killed
 * before it advanced the queue) or consumed by the dying receiver before it
 * could pass it on (killed after): never more, never a wrong one. */
static void test_queue_receiver_killed_mid_receive(void **state)
{
    enum { TOTAL = 20000 };
    hmk_queue *q;
    uint32_t next = 0, dups = 0, kills = 0, inflight = 0;

    (void)state;
    assert_int_equal(hmk_queue_create(qname, 16, sizeof(struct msg), 0600), 0);
    assert_int_equal(hmk_queue_open(qname, &q), 0);
    for (;;) {
        int pfd[2];
        pid_t pid;

        assert_int_equal(pipe(pfd), 0);
        pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            close(pfd[0]);
            for (;;) {
                struct msg m;
                if (hmk_queue_recv(q, &m, sizeof(m), 2000) != (int)sizeof(m))
                    _exit(3);
                if (write(pfd[1], &m, sizeof(m)) != (ssize_t)sizeof(m))
                    _exit(4);
            }
        }
        close(pfd[1]);
        bool first = true;
        /* feed it, kill it at a random moment, read what it passed on */
        for (int i = rand() % 300 + 1; i > 0 && next + (uint32_t)i <= TOTAL; i--) {
            static uint32_t sent;
            struct msg m = { 0, sent, msg_check(0, sent) };
            if (sent >= TOTAL)
                break;
            assert_int_equal(hmk_queue_send(q, &m, sizeof(m), 5000), 0);
            sent++;
        }
        random_pause(500);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        kills++;
        for (;;) {
            struct msg m;
            ssize_t n = read(pfd[0], &m, sizeof(m));
            if (n <= 0)
                break;
            assert_int_equal(n, (ssize_t)sizeof(m));
            assert_true(m.check == msg_check(m.producer, m.seq));
            if (m.seq + 1 == next) {
                dups++; /* the one in flight when its receiver died */
                first = false;
                continue;
            }
            if (first && m.seq == next + 1) {
                inflight++; /* taken by the receiver killed before this one */
                next++;
            }
            first = false;
            assert_int_equal(m.seq, next);
            next++;
        }
        close(pfd[0]);
        /* what the dead receiver left is received by the next one */
        struct hmk_queue_stats st;
        hmk_queue_stats(q, &st);
        if (st.sent == TOTAL && st.queued == 0)
            break; /* all sent and taken */
    }
    /* the last receiver may have died holding the last message */
    assert_true(TOTAL - next <= 1);
    inflight += TOTAL - next;
    next = TOTAL;
    assert_true(dups + inflight <= kills);
    print_message("receiver kills: %u, redelivered %u, consumed by the dying one %u\n", kills,
                  dups, inflight);
    hmk_queue_close(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queue_create_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_order_sizes_full_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_blocking_recv_wakes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_million_messages_none_lost_or_duplicated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_sender_killed_mid_send, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_receiver_killed_mid_receive, setup, teardown),
    };
    srand((unsigned)getpid());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
