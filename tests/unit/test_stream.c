/*
 * test_stream.c - the change stream's ring: order, wrap-around, exact
 * overrun accounting, records overwritten while read, waits. A fake bridge
 * appends with hmk_stream_append, exactly as the bridge does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>

#include "fake_region.h"
#include "halmk.h"

#define DEPTH 16u

struct fx {
    struct fake_region f;
    struct hmk_stream_hdr *st;
    char spath[192];
    size_t size;
    hmk_region *r;
    hmk_stream *s;
    uint64_t cycle;
    uint64_t head;               /* the bridge's own stream position */
    pid_t waiter;
};

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));
    struct hmk_pin_desc pins[2];
    int err = 0;

    fake_slots(pins, 1, HMK_RT_FLOAT);
    fake_pin(&pins[1], "b", HMK_RT_BIT, HMK_RD_IN, 0);
    assert_int_equal(fake_region_create(&x->f, pins, 2, NULL), 0);
    snprintf(x->spath, sizeof(x->spath), "%s%s", x->f.path, HMK_STREAM_SUFFIX);
    x->size = sizeof(struct hmk_stream_hdr) + DEPTH * sizeof(struct hmk_stream_rec);
    x->st = fake_make_object(x->spath, x->size, &err);
    assert_non_null(x->st);
    x->st->depth = DEPTH;
    x->st->generation = x->f.shm->hdr.generation;
    x->st->magic = HMK_STREAM_MAGIC;
    assert_int_equal(hmk_open(x->f.name, HMK_OPEN_RDONLY, &x->r), 0);
    assert_int_equal(hmk_stream_open(x->r, &x->s), 0);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;

    hmk_stream_close(x->s);
    hmk_close(x->r);
    munmap(x->st, x->size);
    unlink(x->spath);
    fake_untrack(x->spath);
    fake_region_destroy(&x->f);
    free(x);
    return 0;
}

/* The bridge's stamp for cycle c: distinct and increasing, so a stamp taken
 * from the wrong record or the wrong cycle shows. */
static uint64_t stamp_of(uint64_t c)
{
    return 1000000000ull + c * 1000003ull;
}

/* One bridge cycle in which slot 0 took value v, and, when b >= 0, pin
 * "b" took b: stamped once, as the bridge's read function does. */
static void append2(struct fx *x, double v, int b)
{
    uint64_t t = stamp_of(++x->cycle);

    hmk_stream_append(x->st, &x->head, DEPTH, x->cycle, t, 0, hmk_enc_float(v));
    if (b >= 0)
        hmk_stream_append(x->st, &x->head, DEPTH, x->cycle, t, 1, (uint64_t)b);
    atomic_store(&x->f.shm->hdr.bridge_time_ns, t);
    atomic_store(&x->f.shm->hdr.bridge_cycle, x->cycle);
    fake_bridge_publish(&x->f);
}

static void append(struct fx *x, double v)
{
    append2(x, v, -1);
}

static void test_stream_order_and_wrap(void **state)
{
    struct fx *x = *state;
    struct hmk_event ev[8];
    uint64_t lost = 0, next = 1;

    /* 5 rounds of 7 records through a 16-record ring: wraps twice */
    for (int round = 0; round < 5; round++) {
        for (int k = 0; k < 7; k++)
            append(x, (double)(round * 7 + k));
        int got = 0;
        while (got < 7) {
            int n = hmk_stream_read(x->s, ev, 8, 0, &lost);
            assert_true(n > 0);
            for (int k = 0; k < n; k++) {
                assert_int_equal(ev[k].cycle, next);
                assert_int_equal(ev[k].pin, 0);
                assert_int_equal(ev[k].value.type, HMK_TYPE_FLOAT);
                assert_true(ev[k].value.f == (double)(next - 1));
                assert_int_equal(ev[k].time_ns, stamp_of(next));
                next++;
            }
            got += n;
        }
    }
    assert_int_equal(lost, 0);
    assert_int_equal(hmk_stream_read(x->s, ev, 8, 0, &lost), -ETIMEDOUT);
}

static void test_stream_overrun_counted_exactly(void **state)
{
    struct fx *x = *state;
    struct hmk_event ev[32];
    uint64_t lost = 0;
    int n;

    for (int k = 0; k < 100; k++)
        append(x, (double)k);
    n = hmk_stream_read(x->s, ev, 32, 0, &lost);
    /* the newest 16 are there, the 84 before them are counted, not guessed */
    assert_int_equal(n, (int)DEPTH);
    assert_int_equal(lost, 100 - DEPTH);
    assert_int_equal(ev[0].cycle, 100 - DEPTH + 1);
    assert_true(ev[0].value.f == (double)(100 - DEPTH));
    assert_int_equal(ev[n - 1].cycle, 100);
    /* the survivors carry their own cycles' stamps, not the overwritten ones' */
    for (int k = 0; k < n; k++)
        assert_int_equal(ev[k].time_ns, stamp_of(ev[k].cycle));
}

/* Every event carries its cycle's stamp: the bridge_time_ns that cycle
 * published, the same for all events of a cycle, increasing with cycles. */
static void test_stream_events_carry_cycle_stamp(void **state)
{
    struct fx *x = *state;
    struct hmk_event ev[8];
    struct hmk_stats st;
    uint64_t pub[4], lost = 0;
    int n;

    for (int c = 0; c < 3; c++) {
        append2(x, (double)c, c & 1);
        assert_int_equal(hmk_stats(x->r, &st), 0);
        pub[c] = st.bridge_time_ns;
    }
    n = hmk_stream_read(x->s, ev, 8, 0, &lost);
    assert_int_equal(n, 6);
    assert_int_equal(lost, 0);
    for (int k = 0; k < n; k++) {
        assert_int_equal(ev[k].cycle, (uint64_t)(k / 2 + 1));
        assert_int_equal(ev[k].time_ns, pub[k / 2]);
        if (k > 0)
            assert_true(ev[k].time_ns >= ev[k - 1].time_ns);
    }
    assert_int_equal(ev[0].time_ns, ev[1].time_ns);
    assert_true(ev[2].time_ns > ev[1].time_ns);
}

/* A record whose slot the bridge is rewriting (seq 0: its stamp may be
 * half the new one) is counted lost; it never lends its stamp to another. */
static void test_stream_rewritten_stamp_is_lost_not_wrong(void **state)
{
    struct fx *x = *state;
    struct hmk_event ev[4];
    uint64_t lost = 0;

    append(x, 1.0);
    append(x, 2.0);
    atomic_store(&x->st->rec[1].seq, 0);
    atomic_store(&x->st->rec[1].time_ns, 7);
    assert_int_equal(hmk_stream_read(x->s, ev, 4, 0, &lost), 1);
    assert_int_equal(lost, 1);
    assert_int_equal(ev[0].cycle, 1);
    assert_int_equal(ev[0].time_ns, stamp_of(1));
}

static void test_stream_overwritten_record_is_lost_not_wrong(void **state)
{
    struct fx *x = *state;
    struct hmk_event ev[4];
    uint64_t lost = 0;

    append(x, 1.0);
    append(x, 2.0);
    /* the bridge is rewriting the first record's slot as the reader looks */
    atomic_store(&x->st->rec[0].seq, 0);
    assert_int_equal(hmk_stream_read(x->s, ev, 4, 0, &lost), 1);
    assert_int_equal(lost, 1);
    assert_int_equal(ev[0].cycle, 2);
}

/* Where the bridge stores depends only on its own position and depth: a
 * reader that scribbled over the shared head and depth (the stream object
 * is readable by all) changes nothing of it, and readers still get the
 * records the bridge appended. */
static void test_stream_append_ignores_shared_head_and_depth(void **state)
{
    struct fx *x = *state;
    struct hmk_event ev[4];
    uint64_t lost = 0;

    append(x, 1.0);
    atomic_store(&x->st->head, 1ull << 40);
    x->st->depth = 1u << 30;
    append(x, 2.0);
    assert_int_equal(x->head, 2);
    assert_int_equal(atomic_load(&x->st->rec[1].seq), 2);
    assert_int_equal(atomic_load(&x->st->head), 2); /* republished from its own */
    x->st->depth = DEPTH;
    assert_int_equal(hmk_stream_read(x->s, ev, 4, 0, &lost), 2);
    assert_int_equal(lost, 0);
    assert_true(ev[1].value.f == 2.0);
}

struct later {
    struct fx *x;
    bool detach;
};

static void *append_later(void *arg)
{
    struct later *l = arg;
    fake_wait_in_futex(l->x->waiter, 10000);
    if (l->detach)
        fake_bridge_detach(&l->x->f);
    else
        append(l->x, 42.0);
    return NULL;
}

static void test_stream_read_blocks_until_append(void **state)
{
    struct fx *x = *state;
    struct later l = { .x = x };
    struct hmk_event ev[4];
    pthread_t t;

    x->waiter = fake_gettid();
    pthread_create(&t, NULL, append_later, &l);
    assert_int_equal(hmk_stream_read(x->s, ev, 4, 5000, NULL), 1);
    pthread_join(t, NULL);
    assert_true(ev[0].value.f == 42.0);
}

static void test_stream_read_returns_estale_on_detach(void **state)
{
    struct fx *x = *state;
    struct later l = { .x = x, .detach = true };
    struct hmk_event ev[4];
    pthread_t t;

    x->waiter = fake_gettid();
    pthread_create(&t, NULL, append_later, &l);
    assert_int_equal(hmk_stream_read(x->s, ev, 4, 5000, NULL), -ESTALE);
    pthread_join(t, NULL);
}

static void test_stream_times_out(void **state)
{
    struct fx *x = *state;
    struct hmk_event ev[4];
    uint64_t t0 = fake_now_ns();

    assert_int_equal(hmk_stream_read(x->s, ev, 4, 50, NULL), -ETIMEDOUT);
    assert_true(fake_now_ns() - t0 >= 40000000ull);
}

static void test_stream_open_checks_generation(void **state)
{
    struct fx *x = *state;
    hmk_stream *s2 = NULL;

    x->st->generation++;
    assert_int_equal(hmk_stream_open(x->r, &s2), -ESTALE);
    x->st->generation--;
    x->st->magic = 0;
    assert_int_equal(hmk_stream_open(x->r, &s2), -EBADMSG);
    x->st->magic = HMK_STREAM_MAGIC;
    assert_null(s2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stream_order_and_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_overrun_counted_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_append_ignores_shared_head_and_depth, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stream_overwritten_record_is_lost_not_wrong, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_read_blocks_until_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_events_carry_cycle_stamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_rewritten_stamp_is_lost_not_wrong, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stream_read_returns_estale_on_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_open_checks_generation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
