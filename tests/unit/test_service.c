/*
 * test_service.c - change notification (hmk_wait), write grants, readiness
 * and the service framework's loop, against a fake bridge (no HAL).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "fake_region.h"
#include "halmk.h"
#include "halmk_tool.h"
#include "halmk_service.h"

#define NPINS 4

struct fixture {
    struct fake_region f;
    hmk_region *r;
    uint64_t cycle;
};

static struct fixture *fx_new(void)
{
    struct fixture *x = calloc(1, sizeof(*x));
    struct hmk_pin_desc pins[NPINS];

    fake_slots(pins, NPINS, HMK_RT_FLOAT);
    assert_int_equal(fake_region_create(&x->f, pins, NPINS, NULL), 0);
    return x;
}

static void fx_free(struct fixture *x)
{
    hmk_close(x->r);
    fake_region_destroy(&x->f);
    free(x);
}

/* What the bridge does in a cycle where in pin `pin` took value v. */
static void bridge_change(struct fixture *x, unsigned pin, double v)
{
    struct hmk_shm *shm = x->f.shm;
    uint64_t s = hmk_in_write_begin(&shm->in);

    x->cycle++;
    atomic_store_explicit(&shm->in.value[pin], hmk_enc_float(v), memory_order_relaxed);
    atomic_store_explicit(&shm->in.changed_cycle[pin], x->cycle, memory_order_relaxed);
    atomic_store_explicit(&shm->in.cycle, x->cycle, memory_order_relaxed);
    hmk_in_write_end(&shm->in, s);
    atomic_store_explicit(&shm->hdr.bridge_cycle, x->cycle, memory_order_release);
    fake_bridge_publish(&x->f);
}

struct delayed {
    struct fixture *x;
    unsigned pin;
    double value;
    bool detach;
    pid_t waiter;
};

/* Acts only once the main thread sleeps in the futex, so the test
 * exercises the sleeping path, not the "already changed" one. */
static void *delayed_change(void *arg)
{
    struct delayed *d = arg;

    fake_wait_in_futex(d->waiter, 10000);
    if (d->detach)
        fake_bridge_detach(&d->x->f);
    else
        bridge_change(d->x, d->pin, d->value);
    return NULL;
}

static void test_service_wait_times_out_without_change(void **state)
{
    struct fixture *x = *state;
    unsigned pin = 1;
    uint64_t since = 0, t0;
    bool changed = true;

    assert_int_equal(hmk_open(x->f.name, HMK_OPEN_RDONLY, &x->r), 0);
    t0 = fake_now_ns();
    assert_int_equal(hmk_wait(x->r, &pin, 1, &since, 50, &changed), -ETIMEDOUT);
    /* it waited (not an immediate return), and not for ever */
    assert_true(fake_now_ns() - t0 >= 40000000ull);
    assert_true(fake_now_ns() - t0 < 5000000000ull);
    assert_int_equal(since, 0);
}

static void test_service_wait_wakes_on_watched_pin(void **state)
{
    struct fixture *x = *state;
    struct delayed d = { .waiter = fake_gettid(), .x = x, .pin = 2, .value = 7.5 };
    unsigned pins[2] = { 1, 2 };
    bool changed[2] = { true, false };
    uint64_t since = 0;
    pthread_t t;
    hmk_value v;

    /* read-only handles wait too: the futex is on the read-only mapping */
    assert_int_equal(hmk_open(x->f.name, HMK_OPEN_RDONLY, &x->r), 0);
    pthread_create(&t, NULL, delayed_change, &d);
    assert_int_equal(hmk_wait(x->r, pins, 2, &since, 5000, changed), 1);
    pthread_join(t, NULL);
    assert_false(changed[0]);
    assert_true(changed[1]);
    assert_int_equal(since, x->cycle);
    assert_int_equal(hmk_read_in(x->r, 2, &v), 0);
    assert_true(v.f == 7.5);
    /* the cursor moved: the same change is not reported twice */
    assert_int_equal(hmk_wait(x->r, pins, 2, &since, 20, changed), -ETIMEDOUT);
}

static void test_service_wait_ignores_other_pins(void **state)
{
    struct fixture *x = *state;
    struct delayed d = { .waiter = fake_gettid(), .x = x, .pin = 3, .value = 1.0 };
    unsigned pin = 0;
    uint64_t since = 0;
    pthread_t t;

    assert_int_equal(hmk_open(x->f.name, 0, &x->r), 0);
    pthread_create(&t, NULL, delayed_change, &d);
    assert_int_equal(hmk_wait(x->r, &pin, 1, &since, 300, NULL), -ETIMEDOUT);
    pthread_join(t, NULL);
    /* but a wait on pin 3 from the start sees it at once */
    pin = 3;
    assert_int_equal(hmk_wait(x->r, &pin, 1, &since, 0, NULL), 1);
}

static void test_service_wait_returns_estale_on_detach(void **state)
{
    struct fixture *x = *state;
    struct delayed d = { .waiter = fake_gettid(), .x = x, .detach = true };
    unsigned pin = 0;
    uint64_t since = 0;
    pthread_t t;

    assert_int_equal(hmk_open(x->f.name, HMK_OPEN_RDONLY, &x->r), 0);
    pthread_create(&t, NULL, delayed_change, &d);
    assert_int_equal(hmk_wait(x->r, &pin, 1, &since, 5000, NULL), -ESTALE);
    pthread_join(t, NULL);
}

static void test_service_wait_rejects_bad_pins(void **state)
{
    struct fixture *x = *state;
    unsigned pin = NPINS;
    uint64_t since = 0;

    assert_int_equal(hmk_open(x->f.name, 0, &x->r), 0);
    assert_int_equal(hmk_wait(x->r, &pin, 1, &since, 0, NULL), -EINVAL);
    assert_int_equal(hmk_wait(x->r, &pin, 1, NULL, 0, NULL), -EINVAL);
}

/* What HAL is driven with: the bridge's merge of every channel, applied. */
static uint64_t out_value(struct fixture *x, unsigned pin)
{
    assert_true(fake_bridge_cycle(&x->f));
    return atomic_load(&x->f.shm->in.out_value[pin]);
}

static void test_service_grant_limits_writes(void **state)
{
    struct fixture *x = *state;

    /* as the daemon sets a service up: its own channel, granted its
     * writes = pins at the bridge, and the same list in the environment */
    fake_grant_pins(&x->f, 1, (const int[]){ 1, 3, -1 });
    fake_use_channel(&x->f, 1);
    setenv("HMK_WRITE_PINS", "pin.1, pin.3", 1);
    assert_int_equal(hmk_open(x->f.name, 0, &x->r), 0);
    unsetenv("HMK_WRITE_PINS");
    assert_int_equal(hmk_write_float(x->r, 1, 2.5), 0);
    assert_int_equal(hmk_write_float(x->r, 3, 4.5), 0);
    assert_int_equal(hmk_write_float(x->r, 2, 9.0), -EPERM);
    assert_int_equal(out_value(x, 1), hmk_enc_float(2.5));
    assert_int_equal(out_value(x, 2), 0); /* unchanged */
    assert_int_equal(out_value(x, 3), hmk_enc_float(4.5));
    assert_int_equal(atomic_load(&x->f.shm->hdr.rejected), 0);
    assert_int_equal(atomic_load(&x->f.chan[0]->commits), 0); /* its own channel only */
    assert_int_equal(atomic_load(&x->f.chan[1]->commits), 2);
}

static void test_service_grant_nothing_maps_read_only(void **state)
{
    struct fixture *x = *state;
    pid_t pid;
    int status;

    setenv("HMK_WRITE_PINS", "", 1);
    assert_int_equal(hmk_open(x->f.name, 0, &x->r), 0);
    unsetenv("HMK_WRITE_PINS");
    assert_int_equal(hmk_write_float(x->r, 1, 2.5), -EROFS);
    assert_int_equal(out_value(x, 1), 0);
    /* the kernel enforces it: a raw store through a read-only mapping of
     * the region kills the process with SIGSEGV */
    pid = fork();
    if (pid == 0) {
        int fd = open(x->f.path, O_RDONLY | O_CLOEXEC);
        signal(SIGSEGV, SIG_DFL); /* cmocka traps it in tests */
        volatile uint64_t *p = mmap(NULL, sizeof(struct hmk_shm), PROT_READ, MAP_SHARED, fd, 0);
        p[0] = 1;
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
}

static void test_service_grant_unknown_pin_fails_open(void **state)
{
    struct fixture *x = *state;

    setenv("HMK_WRITE_PINS", "pin.1,no.such", 1);
    assert_int_equal(hmk_open(x->f.name, 0, &x->r), -ENXIO);
    unsetenv("HMK_WRITE_PINS");
    assert_null(x->r);
}

static void test_service_ready_writes_to_fd(void **state)
{
    char buf[32] = { 0 }, num[16];
    int p[2];

    (void)state;
    assert_int_equal(pipe(p), 0);
    snprintf(num, sizeof(num), "%d", p[1]);
    setenv("HMK_READY_FD", num, 1);
    assert_int_equal(hmk_ready(), 0);
    assert_null(getenv("HMK_READY_FD"));
    assert_int_equal(read(p[0], buf, sizeof(buf) - 1), 8);
    assert_string_equal(buf, "READY=1\n");
    /* the write end was closed: EOF now */
    assert_int_equal(read(p[0], buf, sizeof(buf)), 0);
    close(p[0]);
    /* without the variable there is nothing to do */
    assert_int_equal(hmk_ready(), 0);
    setenv("HMK_READY_FD", "1x", 1);
    assert_int_equal(hmk_ready(), -EBADF);
    unsetenv("HMK_READY_FD");
}

/* ---- the framework's loop ------------------------------------------------ */

struct svc_state {
    int attaches, changes, stops;
    double last;
};

static int svc_attach_cb(hmk_svc *s, void *user)
{
    (void)s;
    ((struct svc_state *)user)->attaches++;
    return 0;
}

static int svc_change_cb(hmk_svc *s, unsigned slot, const hmk_value *v, uint64_t cycle, void *user)
{
    struct svc_state *st = user;

    (void)cycle;
    assert_int_equal(slot, 0);
    st->changes++;
    st->last = v->f;
    if (v->f == 42.0) {
        /* staged now, committed by the framework after this round */
        assert_int_equal(hmk_svc_set_float(s, 0, 84.0), 0);
        hmk_svc_stop(s);
    }
    return 0;
}

static void svc_stop_cb(hmk_svc *s, void *user)
{
    (void)s;
    ((struct svc_state *)user)->stops++;
}

static void test_service_run_calls_handlers_and_commits(void **state)
{
    struct fixture *x = *state;
    static const char *const reads[] = { "pin.0", NULL };
    static const char *const writes[] = { "pin.1", NULL };
    struct svc_state st = { 0 };
    struct hmk_svc_def def = {
        .name = "test", .region = x->f.name, .reads = reads, .writes = writes,
        .on_attach = svc_attach_cb, .on_change = svc_change_cb, .on_stop = svc_stop_cb,
        .user = &st,
    };
    struct delayed d = { .waiter = fake_gettid(), .x = x, .pin = 0, .value = 42.0 };
    char err[160] = "";
    pthread_t t;

    pthread_create(&t, NULL, delayed_change, &d);
    assert_int_equal(hmk_svc_run(&def, err, sizeof(err)), 0);
    pthread_join(t, NULL);
    assert_string_equal(err, "");
    assert_int_equal(st.attaches, 1);
    assert_int_equal(st.changes, 2); /* the initial value, then the change */
    assert_true(st.last == 42.0);
    assert_int_equal(st.stops, 1);
    assert_int_equal(out_value(x, 1), hmk_enc_float(84.0));
}

static void test_service_run_names_a_missing_pin(void **state)
{
    struct fixture *x = *state;
    static const char *const reads[] = { "spindle.speed", NULL };
    struct hmk_svc_def def = { .name = "test", .region = x->f.name, .reads = reads };
    char err[160] = "";

    assert_int_equal(hmk_svc_run(&def, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "'spindle.speed'"));
}

static void test_service_run_refuses_ungranted_write(void **state)
{
    struct fixture *x = *state;
    static const char *const writes[] = { "pin.2", NULL };
    struct hmk_svc_def def = { .name = "test", .region = x->f.name, .writes = writes };
    char err[160] = "";

    setenv("HMK_WRITE_PINS", "pin.1", 1);
    assert_int_equal(hmk_svc_run(&def, err, sizeof(err)), -EPERM);
    unsetenv("HMK_WRITE_PINS");
    assert_non_null(strstr(err, "'pin.2'"));
    assert_non_null(strstr(err, "writes ="));
}

static int setup(void **state)
{
    *state = fx_new();
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_service_wait_times_out_without_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_wait_wakes_on_watched_pin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_wait_ignores_other_pins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_wait_returns_estale_on_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_wait_rejects_bad_pins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_grant_limits_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_grant_nothing_maps_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_grant_unknown_pin_fails_open, setup, teardown),
        cmocka_unit_test(test_service_ready_writes_to_fd),
        cmocka_unit_test_setup_teardown(test_service_run_calls_handlers_and_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_run_names_a_missing_pin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_run_refuses_ungranted_write, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
