/*
 * test_region_recovery.c - the region's out latch when a writer stops or
 * dies mid-write, through libhalmk on one side and a fake bridge
 * (tests/unit/fake_region.h) on the other:
 *  - a writer that stops at every point between and inside the two copies
 *    of the latch leaves readers a consistent copy;
 *  - a forked writer SIGKILLed while it holds the robust mutex mid-write is
 *    recovered (EOWNERDEAD) by the next writer, which repairs both copies.
 * The records and the fixture are tests/unit/region_fixture.h's.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>

#include "halmk_tool.h"
#include "region_fixture.h"

/* ---- a writer that stops between (or inside) the two copies -------------- */

/* Writes rec's first `stores` values into the copy the flip returned. */
static void raw_flip_and_write(struct hmk_out_block *b, const uint32_t *rec, unsigned n,
                               unsigned stores)
{
    unsigned w = hmk_out_write_flip(b);
    for (unsigned i = 0; i < stores && i < n; i++) {
        atomic_store_explicit(&b->copy[w].value[i], rec[i], memory_order_relaxed);
        atomic_store_explicit(&b->copy[w].wgen[i],
                              atomic_load(&b->copy[w ^ 1u].wgen[i]) + 1, memory_order_relaxed);
    }
}

static void expect_bridge_sees(const struct hmk_chan *c, const uint32_t *rec, unsigned n)
{
    uint64_t raw[NPINS];
    int ret = fake_read_latch(c, raw, n);

    assert_int_equal(ret, 0); /* no writer running: first try */
    assert_true(record_ok64(raw, n));
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(raw[i], rec[i]);
}

/* what the library reads is what the bridge applied: one merge cycle first */
static void expect_lib_sees(struct fx *fx, hmk_region *r, const uint32_t *rec, unsigned n)
{
    assert_true(fake_bridge_cycle(&fx->f));
    for (unsigned i = 0; i < n; i++) {
        hmk_value v;
        assert_int_equal(hmk_read_out(r, i, &v), 0);
        assert_int_equal(v.type, HMK_TYPE_U32);
        assert_int_equal(v.u, rec[i]);
    }
}

static void test_region_latch_stopped_writer_leaves_consistent_copy(void **state)
{
    struct fx *fx = *state;
    struct hmk_out_block *b = &fx->f.chan[0]->out;
    hmk_region *r = open_rw(fx);
    uint32_t a[NPINS], bb[NPINS];
    hmk_txn *t;
    unsigned points = 0;

    assert_int_equal(hmk_txn_new(r, &t), 0);
    make_record(a, NPINS, 0x1111, 1);
    make_record(bb, NPINS, 0x2222, 2);

    /* every stop point of a two-copy write of record B over record A */
    for (unsigned round = 0; round < 2; round++) {
        for (unsigned stores = 0; stores <= NPINS; stores++) {
            commit_record(t, a, NPINS);            /* both copies = A */
            expect_bridge_sees(fx->f.chan[0], a, NPINS);
            if (round == 1)
                raw_flip_and_write(b, bb, NPINS, NPINS); /* first copy complete */
            raw_flip_and_write(b, bb, NPINS, stores);    /* ...and "dies" here */
            /* readers are on the copy the flip moved them to: A while the
             * first copy is being written, B once it was complete */
            expect_bridge_sees(fx->f.chan[0], round == 0 ? a : bb, NPINS);
            expect_lib_sees(fx, r, round == 0 ? a : bb, NPINS);
            points++;
        }
    }
    /* the next full commit leaves both copies equal again */
    commit_record(t, a, NPINS);
    for (unsigned i = 0; i < NPINS; i++)
        assert_int_equal(atomic_load(&b->copy[0].value[i]), atomic_load(&b->copy[1].value[i]));
    expect_bridge_sees(fx->f.chan[0], a, NPINS);
    print_message("latch: %u stop points checked\n", points);
    hmk_txn_free(t);
    hmk_close(r);
}

/* ---- robust mutex: a writer SIGKILLed while holding the lock -------------- */

static int wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int n;
    do
        n = poll(&p, 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    return n;
}

/*
 * The child takes the lock on the raw struct (as a libhalmk writer does),
 * flips once and writes half of record B (second_copy: all of B, flips
 * again and writes half of the second copy), tells the parent, and waits
 * to be killed.
 */
static void run_dying_writer(struct fx *fx, int second_copy)
{
    struct hmk_out_block *b = &fx->f.chan[0]->out;
    hmk_region *r = open_rw(fx);
    uint32_t a[NPINS], bb[NPINS], c[NPINS];
    uint64_t rec0 = atomic_load(&fx->f.chan[0]->writer_recoveries);
    const uint32_t *survivor;
    hmk_txn *t;
    int pfd[2], status;
    char ch;
    pid_t pid;

    assert_int_equal(hmk_txn_new(r, &t), 0);
    make_record(a, NPINS, 0xa, 10);
    make_record(bb, NPINS, 0xb, 11);
    make_record(c, NPINS, 0xc, 12);
    commit_record(t, a, NPINS);
    survivor = second_copy ? bb : a;

    assert_int_equal(pipe(pfd), 0);
    pid = fork_child();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        if (pthread_mutex_lock(&b->lock) != 0)
            _exit(3);
        if (second_copy)
            raw_flip_and_write(b, bb, NPINS, NPINS);
        raw_flip_and_write(b, bb, NPINS, NPINS / 2);
        if (write(pfd[1], "x", 1) != 1)
            _exit(4);
        for (;;)
            pause();
    }
    close(pfd[1]);
    assert_int_equal(wait_readable(pfd[0], 10000), 1);
    assert_int_equal(read(pfd[0], &ch, 1), 1);
    close(pfd[0]);

    /* the child holds the lock mid-write: readers still get a whole record */
    expect_bridge_sees(fx->f.chan[0], survivor, NPINS);
    expect_lib_sees(fx, r, survivor, NPINS);

    assert_int_equal(kill(pid, SIGKILL), 0);
    reap_child(pid, &status);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    expect_bridge_sees(fx->f.chan[0], survivor, NPINS);

    /* next writer: a one-pin write gets EOWNERDEAD, repairs, succeeds */
    assert_int_equal(hmk_write_u32(r, 0, 0x12345678u), 0);
    assert_int_equal(atomic_load(&fx->f.chan[0]->writer_recoveries), rec0 + 1);
    {
        struct hmk_stats st;
        assert_int_equal(hmk_stats(r, &st), 0);
        assert_int_equal(st.writer_recoveries, rec0 + 1);
    }
    for (unsigned i = 0; i < NPINS; i++) {
        uint32_t want = i == 0 ? 0x12345678u : survivor[i];
        /* both copies repaired: no trace of the half-written copy */
        assert_int_equal(atomic_load(&b->copy[0].value[i]), want);
        assert_int_equal(atomic_load(&b->copy[1].value[i]), want);
        assert_int_equal(atomic_load(&b->copy[0].wgen[i]), atomic_load(&b->copy[1].wgen[i]));
    }
    /* and a full transaction afterwards is visible as a whole; no second
     * recovery (the mutex was made consistent) */
    commit_record(t, c, NPINS);
    expect_bridge_sees(fx->f.chan[0], c, NPINS);
    expect_lib_sees(fx, r, c, NPINS);
    for (unsigned i = 0; i < NPINS; i++)
        assert_int_equal(atomic_load(&b->copy[0].value[i]), atomic_load(&b->copy[1].value[i]));
    assert_int_equal(atomic_load(&fx->f.chan[0]->writer_recoveries), rec0 + 1);
    assert_int_equal(pthread_mutex_trylock(&b->lock), 0);
    assert_int_equal(pthread_mutex_unlock(&b->lock), 0);
    hmk_txn_free(t);
    hmk_close(r);
}

static void test_region_robust_mutex_owner_dies_in_first_copy(void **state)
{
    run_dying_writer(*state, 0);
}

static void test_region_robust_mutex_owner_dies_in_second_copy(void **state)
{
    run_dying_writer(*state, 1);
}

/* A transaction's commit (hmk_txn_commit) recovers too, not only hmk_write. */
static void test_region_robust_mutex_txn_commit_recovers(void **state)
{
    struct fx *fx = *state;
    struct hmk_out_block *b = &fx->f.chan[0]->out;
    hmk_region *r = open_rw(fx);
    uint32_t a[NPINS], bb[NPINS], c[NPINS];
    hmk_txn *t;
    int status;
    pid_t pid;

    assert_int_equal(hmk_txn_new(r, &t), 0);
    make_record(a, NPINS, 0xa, 20);
    make_record(bb, NPINS, 0xb, 21);
    make_record(c, NPINS, 0xc, 22);
    commit_record(t, a, NPINS);
    pid = fork_child();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* dies on its own, holding the lock, mid-write */
        if (pthread_mutex_lock(&b->lock) != 0)
            _exit(3);
        raw_flip_and_write(b, bb, NPINS, 3);
        kill(getpid(), SIGKILL);
        _exit(5);
    }
    reap_child(pid, &status);
    assert_true(WIFSIGNALED(status));
    expect_bridge_sees(fx->f.chan[0], a, NPINS);
    commit_record(t, c, NPINS);
    assert_int_equal(atomic_load(&fx->f.chan[0]->writer_recoveries), 1);
    expect_bridge_sees(fx->f.chan[0], c, NPINS);
    for (unsigned i = 0; i < NPINS; i++)
        assert_int_equal(atomic_load(&b->copy[0].value[i]), atomic_load(&b->copy[1].value[i]));
    hmk_txn_free(t);
    hmk_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_region_latch_stopped_writer_leaves_consistent_copy,
                                        setup_u32, teardown),
        cmocka_unit_test_setup_teardown(test_region_robust_mutex_owner_dies_in_first_copy,
                                        setup_u32, teardown),
        cmocka_unit_test_setup_teardown(test_region_robust_mutex_owner_dies_in_second_copy,
                                        setup_u32, teardown),
        cmocka_unit_test_setup_teardown(test_region_robust_mutex_txn_commit_recovers,
                                        setup_u32, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
