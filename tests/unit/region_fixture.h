/*
 * region_fixture.h - what test_region.c and test_region_recovery.c share:
 * checksummed records (pin 0 a sequence number, pins 1..N-2 pseudo-random,
 * pin N-1 the xor of the others with a constant, so that tearing is
 * detectable) and a fake region (tests/unit/fake_region.h) of u32 slots
 * with the teardown that kills a forked writer left behind.
 */
#ifndef REGION_FIXTURE_H
#define REGION_FIXTURE_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "halmk.h"
#include "fake_region.h"

#define NPINS       16u            /* pins in a latch record */
#define IN_NPINS    64u            /* pins in an in-seqlock record (longer reads) */
#define CHECK_XOR   0xa5a5a5a5u

/* ---- records ------------------------------------------------------------ */

static inline void make_record(uint32_t *rec, unsigned n, uint32_t seqno, uint64_t seed)
{
    uint32_t x = CHECK_XOR;
    uint64_t st = seed;

    rec[0] = seqno;
    x ^= seqno;
    for (unsigned i = 1; i + 1 < n; i++) {
        rec[i] = (uint32_t)fake_rand(&st);
        x ^= rec[i];
    }
    rec[n - 1] = x;
}

static inline int record_ok(const uint32_t *rec, unsigned n)
{
    uint32_t x = CHECK_XOR;
    for (unsigned i = 0; i + 1 < n; i++)
        x ^= rec[i];
    return x == rec[n - 1];
}

static inline int record_ok64(const uint64_t *raw, unsigned n)
{
    uint32_t rec[HMK_MAX_PINS];
    for (unsigned i = 0; i < n; i++) {
        if (raw[i] >> 32)
            return 0;
        rec[i] = (uint32_t)raw[i];
    }
    return record_ok(rec, n);
}

/* ---- fixture ------------------------------------------------------------ */

struct fx {
    struct fake_region f;
};

/* A forked writer still alive when a test fails is killed by the teardown
 * (it may hold the region's lock); PR_SET_PDEATHSIG covers a crash of the
 * test itself. */
static pid_t live_child = -1;

static inline pid_t fork_child(void)
{
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(6);
    } else if (pid > 0) {
        live_child = pid;
    }
    return pid;
}

static inline void reap_child(pid_t pid, int *status)
{
    assert_int_equal(waitpid(pid, status, 0), pid);
    live_child = -1;
}

static inline int setup_u32(void **state)
{
    static struct fx fx;
    struct hmk_pin_desc pins[IN_NPINS];

    fake_slots(pins, IN_NPINS, HMK_RT_U32);
    if (fake_region_create(&fx.f, pins, IN_NPINS, NULL) < 0)
        return -1;
    *state = &fx;
    return 0;
}

static inline int teardown(void **state)
{
    struct fx *fx = *state;
    if (live_child > 0) {
        kill(live_child, SIGKILL);
        waitpid(live_child, NULL, 0);
        live_child = -1;
    }
    fake_region_destroy(&fx->f);
    return 0;
}

static inline hmk_region *open_rw(struct fx *fx)
{
    hmk_region *r = NULL;
    int ret = hmk_open(fx->f.name, 0, &r);
    assert_int_equal(ret, 0);
    assert_non_null(r);
    return r;
}

static inline void commit_record(hmk_txn *t, const uint32_t *rec, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        hmk_value v = { .type = HMK_TYPE_U32, .u = rec[i] };
        assert_int_equal(hmk_txn_set(t, i, &v), 0);
    }
    assert_int_equal(hmk_txn_commit(t), (int)n);
}

#endif
