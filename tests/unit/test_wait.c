/*
 * test_wait.c - change notification (hmk_wait_change) on the change word:
 * timeouts, wakes by the bridge's publish, by a commit the bridge applied,
 * by a detach; bit 0 (the daemon's relay flag) is not a change; the poke to
 * the daemon's relay; the bound on a sleep while the relay is armed.
 * hmk_change_fd: readable after a change and not before, cleared by the
 * ack, readable for good on detach, joined and closed by hmk_close.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>
#include <poll.h>
#include <unistd.h>
#include <cmocka.h>

#include "halmk.h"
#include "halmk_tool.h"
#include "halmk_priv.h"
#include "lib_fixture.h"

/* ---- change notification ----------------------------------------------- */

enum pub_action { PUB_PUBLISH, PUB_COMMIT, PUB_DETACH };

struct publisher {
    enum pub_action action;
    pid_t waiter;                 /* the waiting thread's tid */
    _Atomic int saw_waiter;
    pthread_t th;
};

/* The fake bridge (or another writer): waits, with a deadline, until the
 * waiter sleeps in FUTEX_WAIT, then acts. Without a daemon nobody wakes
 * the waiter: it must see the change at its next time slice. */
static void *publisher_main(void *arg)
{
    struct publisher *p = arg;

    atomic_store(&p->saw_waiter, fake_wait_in_futex(p->waiter, 10000));
    switch (p->action) {
    case PUB_PUBLISH:
        fake_bridge_publish(&fx);
        break;
    case PUB_COMMIT: {
        hmk_region *w = NULL;
        if (hmk_open(fx.name, 0, &w) == 0) {
            hmk_write_float(w, 0, 42.0);
            hmk_close(w);
        }
        fake_bridge_cycle(&fx); /* the change is the bridge's applying it */
        break;
    }
    case PUB_DETACH:
        fake_bridge_detach(&fx);
        break;
    }
    return NULL;
}

static void start_publisher(struct publisher *p, enum pub_action a)
{
    p->action = a;
    p->waiter = fake_gettid();
    atomic_store(&p->saw_waiter, 0);
    assert_int_equal(pthread_create(&p->th, NULL, publisher_main, p), 0);
}

static void test_lib_wait_change_times_out(void **state)
{
    hmk_region *r = open_ok(0);
    uint32_t seq = hmk_change_seq(r), seq0 = seq;
    uint64_t t0 = fake_now_ns(), dt;
    (void)state;

    assert_int_equal(hmk_wait_change(r, &seq, 300), -ETIMEDOUT);
    dt = (fake_now_ns() - t0) / 1000000;
    print_message("300 ms timeout returned after %llu ms\n", (unsigned long long)dt);
    assert_true(dt >= 250);   /* not early (ms rounding aside) */
    assert_true(dt < 10000);  /* and not stuck */
    assert_int_equal(seq, seq0);
    t0 = fake_now_ns();
    assert_int_equal(hmk_wait_change(r, &seq, 0), -ETIMEDOUT);
    assert_true(fake_now_ns() - t0 < 5000000000ull);
    hmk_close(r);
}

static void test_lib_wait_change_already_changed(void **state)
{
    hmk_region *r = open_ok(0);
    uint32_t seq = hmk_change_seq(r);
    (void)state;

    fake_bridge_publish(&fx);
    assert_int_equal(hmk_wait_change(r, &seq, 10000), 0);
    assert_int_equal(seq, hmk_change_seq(r));
    assert_int_equal(seq, atomic_load(&fx.shm->hdr.change_word) >> 1);
    hmk_close(r);
}

static void wait_woken_by(enum pub_action a, unsigned flags)
{
    hmk_region *r = open_ok(flags);
    uint32_t seq = hmk_change_seq(r), seq0 = seq;
    struct publisher p;
    uint64_t t0 = fake_now_ns();
    int ret;

    start_publisher(&p, a);
    ret = hmk_wait_change(r, &seq, 20000);
    pthread_join(p.th, NULL);
    assert_true(atomic_load(&p.saw_waiter)); /* it did block in the futex */
    assert_true(fake_now_ns() - t0 < 15000000000ull); /* woken, not timed out */
    if (a == PUB_DETACH) {
        assert_int_equal(ret, -ESTALE);
        assert_int_equal(hmk_check(r), -ESTALE);
        assert_int_equal(hmk_wait_change(r, &seq, 1000), -ESTALE); /* at once */
    } else {
        assert_int_equal(ret, 0);
        assert_int_equal(seq, seq0 + 1);
        assert_int_equal(seq, hmk_change_seq(r));
    }
    hmk_close(r);
}

static void test_lib_wait_change_woken_by_publish(void **state)
{
    (void)state;
    wait_woken_by(PUB_PUBLISH, 0);
}

static void test_lib_wait_change_woken_by_commit(void **state)
{
    (void)state;
    wait_woken_by(PUB_COMMIT, 0);
}

static void test_lib_wait_change_rdonly_handle(void **state)
{
    (void)state;
    wait_woken_by(PUB_PUBLISH, HMK_OPEN_RDONLY);
}

static void test_lib_wait_change_detach_gives_estale(void **state)
{
    (void)state;
    wait_woken_by(PUB_DETACH, 0);
}

struct relay_toggler {
    _Atomic int stop;
    pthread_t th;
};

static void *relay_toggler_main(void *arg)
{
    struct relay_toggler *t = arg;
    struct timespec ms = { 0, 2000000 };

    while (!atomic_load(&t->stop)) {
        atomic_fetch_xor(&fx.shm->hdr.change_word, 1u);
        syscall(SYS_futex, &fx.shm->hdr.change_word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
        nanosleep(&ms, NULL);
    }
    return NULL;
}

/* Bit 0 of the change word is the daemon's relay flag, not a change: a
 * daemon arming and disarming (and waking everyone each time) makes no
 * waiter report a change, and the cursor ignores it. */
static void test_lib_wait_change_relay_bit_is_not_a_change(void **state)
{
    hmk_region *r = open_ok(HMK_OPEN_RDONLY);
    struct relay_toggler t = { 0 };
    uint32_t seq = hmk_change_seq(r), seq0 = seq;
    (void)state;

    assert_int_equal(pthread_create(&t.th, NULL, relay_toggler_main, &t), 0);
    assert_int_equal(hmk_wait_change(r, &seq, 300), -ETIMEDOUT);
    atomic_store(&t.stop, 1);
    pthread_join(t.th, NULL);
    assert_int_equal(seq, seq0);
    atomic_fetch_or(&fx.shm->hdr.change_word, 1u);
    assert_int_equal(hmk_change_seq(r), seq0);
    fake_bridge_publish(&fx);
    assert_int_equal(hmk_change_seq(r), seq0 + 1);
    assert_int_equal(hmk_wait_change(r, &seq, 1000), 0);
    assert_int_equal(seq, seq0 + 1);
    hmk_close(r);
}

/* Connected but the relay not armed: a waiter asks the daemon's relay to
 * arm (one datagram to its abstract socket) and still sees the
 * change by its own time slice if nobody answers. */
static void test_lib_wait_change_pokes_relay(void **state)
{
    hmk_region *r = open_ok(HMK_OPEN_RDONLY);
    struct timeval tv = { 10, 0 };
    struct sockaddr_un a;
    socklen_t len;
    uint32_t seq = hmk_change_seq(r);
    char buf[8];
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    (void)state;

    assert_true(s >= 0);
    hmk_poke_addr(fx.name, &a, &len);
    assert_int_equal(bind(s, (struct sockaddr *)&a, len), 0);
    assert_int_equal(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    /* not connected: nobody to poke */
    assert_int_equal(hmk_wait_change(r, &seq, 50), -ETIMEDOUT);
    assert_int_equal(recv(s, buf, sizeof(buf), MSG_DONTWAIT), -1);
    atomic_store(&fx.shm->hdr.connected, 1);
    assert_int_equal(hmk_wait_change(r, &seq, 50), -ETIMEDOUT);
    assert_int_equal(recv(s, buf, sizeof(buf), 0), 1); /* one byte: any datagram is a poke */
    /* armed and connected: no poke (the relay is there already) */
    while (recv(s, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
        ;
    atomic_fetch_or(&fx.shm->hdr.change_word, 1u);
    seq = hmk_change_seq(r);
    assert_int_equal(hmk_wait_change(r, &seq, 50), -ETIMEDOUT);
    assert_int_equal(recv(s, buf, sizeof(buf), MSG_DONTWAIT), -1);
    close(s);
    hmk_close(r);
}

/* Armed and connected, the bridge wakes only the relay: a relay that does
 * not fan out (a daemon that died in between) delays a waiter by at most
 * the library's armed cap (1 s), never forever. */
static void test_lib_wait_change_armed_without_relay_is_bounded(void **state)
{
    hmk_region *r = open_ok(HMK_OPEN_RDONLY);
    uint32_t seq = hmk_change_seq(r), seq0 = seq;
    struct publisher p;
    uint64_t t0, dt;
    (void)state;

    atomic_store(&fx.shm->hdr.connected, 1);
    atomic_fetch_or(&fx.shm->hdr.change_word, 1u);
    atomic_store(&fx.ctl->relay_armed, 1);
    t0 = fake_now_ns();
    start_publisher(&p, PUB_PUBLISH);
    assert_int_equal(hmk_wait_change(r, &seq, 20000), 0);
    dt = (fake_now_ns() - t0) / 1000000;
    pthread_join(p.th, NULL);
    print_message("armed, no relay: change seen after %llu ms\n", (unsigned long long)dt);
    assert_true(atomic_load(&p.saw_waiter));
    assert_int_equal(seq, seq0 + 1);
    assert_true(dt < 15000);
    hmk_close(r);
}

/* ---- hmk_change_fd ------------------------------------------------------ */

/* Readable within ms? */
static bool fd_readable(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static void test_lib_change_fd_readable_after_change_only(void **state)
{
    hmk_region *r = open_ok(HMK_OPEN_RDONLY);
    int fd = hmk_change_fd(r), fl;
    (void)state;

    assert_true(fd >= 0);
    assert_int_equal(hmk_change_fd(r), fd); /* one per handle */
    fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0 && (fl & O_NONBLOCK));
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    /* nothing changed: not readable (the thread looks every 10 ms here) */
    assert_false(fd_readable(fd, 200));
    for (int k = 0; k < 3; k++) {
        fake_bridge_publish(&fx);
        assert_true(fd_readable(fd, 20000));
        assert_true(fd_readable(fd, 0)); /* level-triggered until acked */
        assert_int_equal(hmk_change_fd_ack(r), 0);
        assert_false(fd_readable(fd, 100));
    }
    hmk_close(r);
    /* hmk_close joined the thread and closed the descriptor */
    assert_int_equal(fcntl(fd, F_GETFD), -1);
    assert_int_equal(errno, EBADF);
}

static void test_lib_change_fd_detach_stays_readable(void **state)
{
    hmk_region *r = open_ok(0);
    int fd = hmk_change_fd(r);
    (void)state;

    assert_true(fd >= 0);
    assert_false(fd_readable(fd, 50));
    fake_bridge_detach(&fx);
    assert_true(fd_readable(fd, 20000));
    assert_int_equal(hmk_change_fd_ack(r), -ESTALE);
    assert_true(fd_readable(fd, 0)); /* for good: the loop must not miss it */
    assert_int_equal(hmk_change_fd_ack(r), -ESTALE);
    hmk_close(r);
}

/* hmk_close with the thread asleep in the futex (the relay armed: it would
 * sleep 5 s without the close's wake), many times: each close is prompt. */
static void test_lib_change_fd_close_is_prompt(void **state)
{
    uint64_t t0 = fake_now_ns();
    (void)state;

    atomic_fetch_or(&fx.shm->hdr.change_word, 1u);
    atomic_store(&fx.shm->hdr.connected, 1);
    for (int k = 0; k < 20; k++) {
        hmk_region *r = open_ok(HMK_OPEN_RDONLY);
        assert_true(hmk_change_fd(r) >= 0);
        if (k & 1)
            usleep(2000); /* sometimes asleep already, sometimes not yet */
        hmk_close(r);
    }
    print_message("20 open/change_fd/close: %llu ms\n",
                  (unsigned long long)((fake_now_ns() - t0) / 1000000));
    assert_true(fake_now_ns() - t0 < 20000000000ull);
    assert_int_equal(hmk_change_fd(NULL), -EINVAL);
    assert_int_equal(hmk_change_fd_ack(NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_lib_wait_change_times_out),
        T(test_lib_wait_change_already_changed),
        T(test_lib_wait_change_woken_by_publish),
        T(test_lib_wait_change_woken_by_commit),
        T(test_lib_wait_change_rdonly_handle),
        T(test_lib_wait_change_detach_gives_estale),
        T(test_lib_wait_change_relay_bit_is_not_a_change),
        T(test_lib_wait_change_pokes_relay),
        T(test_lib_wait_change_armed_without_relay_is_bounded),
        T(test_lib_change_fd_readable_after_change_only),
        T(test_lib_change_fd_detach_stays_readable),
        T(test_lib_change_fd_close_is_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
