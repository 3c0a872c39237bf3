/* test_reap.c - the reaping loop, with waitid and waitpid wrapped
 * (-Wl,--wrap) to script which children are waitable. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "reap.h"

/* script: the pids waitid(P_ALL, WNOWAIT) reports, in order; 0 = none waitable,
 * -1 = ECHILD (no children at all) */
static pid_t script[64];
static int n_script, pos;
static pid_t reaped_by_pid[64];
static int n_reaped_by_pid;
static pid_t services[8];
static int n_services;
static pid_t service_reaped[64];
static int n_service_reaped;
static pid_t orphans[64];
static int n_orphans;
static int peek_errno;

int __wrap_waitid(idtype_t idtype, id_t id, siginfo_t *si, int options)
{
    (void)id;
    assert_int_equal(idtype, P_ALL);
    assert_true(options & WNOWAIT); /* the loop only ever looks */
    assert_true(options & WNOHANG); /* and never blocks */
    if (peek_errno) {
        errno = peek_errno;
        peek_errno = 0;
        return -1;
    }
    if (pos >= n_script || script[pos] < 0) {
        errno = ECHILD;
        return -1;
    }
    memset(si, 0, sizeof(*si));
    si->si_pid = script[pos];
    return 0;
}

pid_t __wrap_waitpid(pid_t pid, int *status, int options)
{
    (void)status;
    assert_true(options & WNOHANG);
    assert_int_equal(pid, script[pos]); /* by pid, the one just seen */
    reaped_by_pid[n_reaped_by_pid++] = pid;
    pos++;
    return pid;
}

static bool is_service(void *ctx, pid_t pid)
{
    (void)ctx;
    for (int i = 0; i < n_services; i++)
        if (services[i] == pid)
            return true;
    return false;
}

static int service_exited(void *ctx, pid_t pid)
{
    (void)ctx;
    service_reaped[n_service_reaped++] = pid;
    pos++; /* the caller reaped it through its pidfd */
    return 0;
}

static void orphan_reaped(void *ctx, pid_t pid)
{
    (void)ctx;
    orphans[n_orphans++] = pid;
}

static const struct reap_ops ops = { is_service, service_exited, orphan_reaped };

static int setup(void **state)
{
    (void)state;
    n_script = pos = n_reaped_by_pid = n_services = n_service_reaped = n_orphans = peek_errno = 0;
    return 0;
}

static void test_mixed(void **state)
{
    (void)state;
    /* one SIGCHLD for three exits (signals do not queue): all three reaped */
    services[n_services++] = 200;
    services[n_services++] = 300;
    script[n_script++] = 100; /* orphan */
    script[n_script++] = 200; /* service */
    script[n_script++] = 300; /* service */
    script[n_script++] = 0;   /* others still running */
    assert_int_equal(reap_children(&ops, NULL), 3);
    assert_int_equal(n_reaped_by_pid, 1);
    assert_int_equal(reaped_by_pid[0], 100);
    assert_int_equal(n_orphans, 1);
    assert_int_equal(n_service_reaped, 2);
    assert_int_equal(service_reaped[0], 200);
    assert_int_equal(service_reaped[1], 300);
}

static void test_no_children(void **state)
{
    (void)state;
    script[n_script++] = -1;
    assert_int_equal(reap_children(&ops, NULL), 0);
}

static void test_many(void **state)
{
    (void)state;
    for (int i = 0; i < 60; i++)
        script[n_script++] = 1000 + i;
    assert_int_equal(reap_children(&ops, NULL), 60);
    assert_int_equal(n_orphans, 60);
}

static void test_eintr_and_errors(void **state)
{
    (void)state;
    script[n_script++] = 5;
    script[n_script++] = 0;
    peek_errno = EINTR; /* retried */
    assert_int_equal(reap_children(&ops, NULL), 1);
    setup(NULL);
    peek_errno = EINVAL;
    assert_int_equal(reap_children(&ops, NULL), -EINVAL);
}

static int stuck_service(void *ctx, pid_t pid)
{
    (void)ctx;
    (void)pid;
    return -ECHILD; /* could not reap: the loop must stop, not spin */
}

static void test_stuck(void **state)
{
    const struct reap_ops stuck = { is_service, stuck_service, NULL };
    (void)state;
    services[n_services++] = 7;
    script[n_script++] = 7;
    assert_int_equal(reap_children(&stuck, NULL), -ECHILD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_mixed, setup),     cmocka_unit_test_setup(test_no_children, setup),
        cmocka_unit_test_setup(test_many, setup),      cmocka_unit_test_setup(test_eintr_and_errors, setup),
        cmocka_unit_test_setup(test_stuck, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
