/* test_svc.c - starting a service's process: fork and pipe2 are wrapped
 * (-Wl,--wrap) to inject failures; the success paths fork for real. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cfg.h"
#include "svc.h"

pid_t __real_fork(void);
int __real_pipe2(int fds[2], int flags);

static int fork_errno;      /* non-zero: fork fails with it */
static int pipe2_fail_at;   /* n > 0: the n-th pipe2 call fails with EMFILE */
static int pipe2_calls;

pid_t __wrap_fork(void)
{
    if (fork_errno) {
        errno = fork_errno;
        return -1;
    }
    return __real_fork();
}

int __wrap_pipe2(int fds[2], int flags)
{
    if (++pipe2_calls == pipe2_fail_at) {
        errno = EMFILE;
        return -1;
    }
    return __real_pipe2(fds, flags);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the DIR's own fd */
}

static struct cfg_service *svc_cfg(const char *text)
{
    struct cfg_error err;
    struct cfg *c = NULL;
    struct cfg_service *s;

    if (cfg_load_string(text, &c, &err) < 0) {
        fprintf(stderr, "line %d: %s\n", err.line, err.msg);
        fail();
    }
    s = c->svc[0];
    c->svc[0] = NULL;
    cfg_free(c);
    return s;
}

static int setup(void **state)
{
    (void)state;
    fork_errno = 0;
    pipe2_fail_at = 0;
    pipe2_calls = 0;
    return 0;
}

static void test_env(void **state)
{
    struct cfg_service *s = svc_cfg("[service a]\nexec = a\nenv = A=1\nenv = B=2 3\nready = fd\n");
    char **env = NULL;
    (void)state;

    assert_int_equal(svc_build_env(s, "rig", NULL, NULL, &env), 0);
    assert_string_equal(env[0], "A=1");
    assert_string_equal(env[1], "B=2 3");
    assert_string_equal(env[2], "HAL_MICROKERNEL_REGION=rig");
    assert_string_equal(env[3], "HMK_READY_FD=3");
    assert_null(env[4]);
    cfg_strv_free(env);
    s->ready = CFG_READY_NONE;
    assert_int_equal(svc_build_env(s, "rig", NULL, NULL, &env), 0);
    assert_null(env[3]);
    cfg_strv_free(env);
    cfg_service_free(s);
    /* writes = a list, and writes = none (set, empty: the service may write nothing) */
    s = svc_cfg("[service a]\nexec = a\nwrites = pin.1 spindle.speed,x\n");
    assert_int_equal(svc_build_env(s, "rig", NULL, NULL, &env), 0);
    assert_string_equal(env[1], "HMK_WRITE_PINS=pin.1,spindle.speed,x");
    assert_null(env[2]);
    cfg_strv_free(env);
    cfg_service_free(s);
    s = svc_cfg("[service a]\nexec = a\nwrites = none\n");
    assert_int_equal(svc_build_env(s, "rig", NULL, NULL, &env), 0);
    assert_string_equal(env[1], "HMK_WRITE_PINS=");
    cfg_strv_free(env);
    cfg_service_free(s);
}

static void test_fork_fails(void **state)
{
    struct cfg_service *s = svc_cfg("[service a]\nexec = /bin/true\nready = fd\n");
    struct svc_proc p;
    int before = count_fds();
    (void)state;

    fork_errno = EAGAIN;
    assert_int_equal(svc_spawn(s, "r", NULL, NULL, &p), -EAGAIN);
    assert_int_equal(count_fds(), before); /* both pipes closed again */
    cfg_service_free(s);
}

static void test_pipe_fails(void **state)
{
    struct cfg_service *s = svc_cfg("[service a]\nexec = /bin/true\nready = fd\n");
    struct svc_proc p;
    int before = count_fds();
    (void)state;

    pipe2_fail_at = 2; /* the ready pipe */
    assert_int_equal(svc_spawn(s, "r", NULL, NULL, &p), -EMFILE);
    assert_int_equal(count_fds(), before);
    cfg_service_free(s);
}

/* spawn for real, read the exec report, reap through the pidfd */
static void run(const char *text, int *step, int *err, int *status)
{
    struct cfg_service *s = svc_cfg(text);
    struct svc_exec_report rep;
    struct svc_proc p;
    siginfo_t si = { 0 };
    ssize_t n;
    int flags;

    assert_int_equal(svc_spawn(s, "r", NULL, NULL, &p), 0);
    assert_true(p.pid > 0 && p.pidfd >= 0 && p.status_fd >= 0);
    /* the daemon's ends are close-on-exec too */
    assert_true(fcntl(p.pidfd, F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(p.status_fd, F_GETFD) & FD_CLOEXEC);
    flags = fcntl(p.status_fd, F_GETFL);
    fcntl(p.status_fd, F_SETFL, flags & ~O_NONBLOCK);
    n = read(p.status_fd, &rep, sizeof(rep));
    *step = n == (ssize_t)sizeof(rep) ? rep.step : 0;
    *err = n == (ssize_t)sizeof(rep) ? rep.err : 0;
    assert_true(n == 0 || n == (ssize_t)sizeof(rep));
    assert_int_equal(waitid((idtype_t)P_PIDFD, (id_t)p.pidfd, &si, WEXITED), 0);
    assert_int_equal(si.si_pid, p.pid);
    *status = si.si_status;
    close(p.pidfd);
    close(p.status_fd);
    if (p.ready_fd >= 0)
        close(p.ready_fd);
    cfg_service_free(s);
}

static void test_exec_ok(void **state)
{
    int step, err, status;
    (void)state;
    run("[service a]\nexec = /bin/sh -c 'exit 7'\n", &step, &err, &status);
    assert_int_equal(step, 0); /* EOF: exec happened */
    assert_int_equal(status, 7);
    /* PATH lookup without PATH in the environment uses the default */
    run("[service a]\nexec = true\n", &step, &err, &status);
    assert_int_equal(step, 0);
    assert_int_equal(status, 0);
}

static void test_exec_missing(void **state)
{
    int step, err, status;
    (void)state;
    run("[service a]\nexec = /nonexistent/prog\n", &step, &err, &status);
    assert_int_equal(step, SVC_STEP_EXEC);
    assert_int_equal(err, ENOENT);
    assert_int_equal(status, 127);
    assert_string_equal(svc_step_name(step), "exec");
    run("[service a]\nexec = /etc/passwd\n", &step, &err, &status);
    assert_int_equal(step, SVC_STEP_EXEC);
    assert_int_equal(err, EACCES);
}

static void test_setup_fails(void **state)
{
    int step, err, status;
    (void)state;
    /* above the kernel's nr_open: setrlimit refuses, reported as such */
    run("[service a]\nexec = /bin/true\nlimit-nofile = 1073741824\n", &step, &err, &status);
    assert_int_equal(step, SVC_STEP_RLIMIT);
    assert_string_equal(svc_step_name(step), "setrlimit");
    assert_int_equal(status, 127);
}

/* The child needs descriptors of its own above the three it hands over
 * before exec: at a limit that leaves the daemon just enough, the child
 * reports EMFILE, which the daemon retries (transient) instead of giving up
 * as for a missing program. */
static void test_child_short_of_fds(void **state)
{
    struct rlimit old, rl;
    int step, err, status, lowest;
    (void)state;

    lowest = fcntl(0, F_DUPFD, 0);
    assert_true(lowest >= 0);
    close(lowest);
    for (int fd = lowest; fd < lowest + 6; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            skip(); /* a harness holds descriptors among ours: no clean count */
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    /* the daemon side: the status and ready pipes, then its pidfd (4 + 1);
     * the child holds the four pipe ends and must copy two of them above
     * the hand-over numbers: one fits, the second does not */
    rl = old;
    rl.rlim_cur = (rlim_t)(lowest + 5 > SVC_TELEMETRY_FD + 2 ? lowest + 5 : SVC_TELEMETRY_FD + 2);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    run("[service a]\nexec = /bin/true\nready = fd\n", &step, &err, &status);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_int_equal(step, SVC_STEP_SETUP);
    assert_int_equal(err, EMFILE);
    assert_int_equal(status, 127);
    assert_true(svc_report_transient(&(struct svc_exec_report){ step, err }));
    /* what retrying cannot cure */
    assert_false(svc_report_transient(&(struct svc_exec_report){ SVC_STEP_EXEC, ENOENT }));
    assert_false(svc_report_transient(&(struct svc_exec_report){ SVC_STEP_SETUID, EPERM }));
    assert_false(svc_report_transient(&(struct svc_exec_report){ SVC_STEP_SCHED, EBUSY }));
    assert_true(svc_report_transient(&(struct svc_exec_report){ SVC_STEP_EXEC, ENOMEM }));
    assert_true(svc_report_transient(&(struct svc_exec_report){ SVC_STEP_SETUID, EAGAIN }));
}

/* The group by number (a kernel without PIDFD_SIGNAL_PROCESS_GROUP): only
 * while one of ours pins it. A leader that left a member behind and was
 * reaped: the member, adopted by us as subreaper, pins the group; once it is
 * reaped too, the number is free and nothing may be signalled by it. */
static void test_group_by_number(void **state)
{
    int p[2], status;
    pid_t leader, member;
    (void)state;

    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    assert_int_equal(pipe(p), 0);
    leader = fork();
    assert_true(leader >= 0);
    if (leader == 0) {
        pid_t m;
        setpgid(0, 0);
        m = fork();
        if (m == 0) {
            for (;;)
                pause();
        }
        if (write(p[1], &m, sizeof(m)) != (ssize_t)sizeof(m))
            _exit(1);
        _exit(0);
    }
    close(p[1]);
    assert_int_equal(read(p[0], &member, sizeof(member)), (ssize_t)sizeof(member));
    close(p[0]);
    assert_int_equal(waitpid(leader, &status, 0), leader);
    /* the member is ours now and keeps the group's number */
    assert_true(svc_group_pinned(leader));
    assert_int_equal(svc_signal_group(-1, leader, 0, false), 0);
    assert_int_equal(svc_signal_group(-1, leader, SIGKILL, false), 0);
    assert_int_equal(waitpid(member, &status, 0), member);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_false(svc_group_pinned(leader));
    assert_int_equal(svc_signal_group(-1, leader, SIGKILL, false), -ESRCH);
    assert_int_equal(svc_signal_group(-1, 0, SIGKILL, true), -ESRCH);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
}

/* what the service wrote to the file tmp, which goes */
static void read_back(const char *tmp, char *buf, size_t len)
{
    int fd = open(tmp, O_RDONLY);
    ssize_t n = read(fd, buf, len - 1);

    close(fd);
    unlink(tmp);
    assert_true(n > 0);
    buf[n] = '\0';
}

static void test_fds_and_env(void **state)
{
    char tmp[] = "/tmp/hmk-test-svc-XXXXXX", text[512], buf[512];
    int step, err, status, fd;
    (void)state;

    fd = mkstemp(tmp);
    assert_true(fd >= 0);
    close(fd);
    /* a stray fd without O_CLOEXEC in the daemon must not reach the child */
    fd = open("/dev/null", O_RDONLY);
    snprintf(text, sizeof(text),
             "[service a]\nexec = /bin/sh -c 'ls /proc/self/fd | tr \"\\\\n\" \" \" >%s; echo \"$HMK_READY_FD $HAL_MICROKERNEL_REGION $FOO\" >>%s'\nready = fd\nenv = FOO=bar\n",
             tmp, tmp);
    run(text, &step, &err, &status);
    close(fd);
    assert_int_equal(status, 0);
    read_back(tmp, buf, sizeof(buf));
    /* ls's own directory fd is the 5th; 0 1 2 and the ready fd 3 */
    assert_string_equal(buf, "0 1 2 3 4 3 r bar\n");
}

/* What the daemon ignores does not reach a service: a child resets the
 * ignored signals (exec keeps them) and leaves the rest to exec. */
static void test_signals_reset(void **state)
{
    char tmp[] = "/tmp/hmk-test-svc-XXXXXX", text[512], buf[64];
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    int step, err, status, fd;
    (void)state;

    fd = mkstemp(tmp);
    assert_true(fd >= 0);
    close(fd);
    snprintf(text, sizeof(text),
             "[service a]\nexec = /bin/sh -c 'grep ^SigIgn: /proc/self/status >%s'\n", tmp);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    svc_signals_init(); /* as the daemon does after setting its own */
    run(text, &step, &err, &status);
    assert_int_equal(status, 0);
    read_back(tmp, buf, sizeof(buf));
    assert_string_equal(buf, "SigIgn:\t0000000000000000\n");
    sigaction(SIGPIPE, &dfl, NULL);
    sigaction(SIGUSR2, &dfl, NULL);
    svc_signals_init();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_env, setup),
        cmocka_unit_test_setup(test_fork_fails, setup),
        cmocka_unit_test_setup(test_pipe_fails, setup),
        cmocka_unit_test_setup(test_exec_ok, setup),
        cmocka_unit_test_setup(test_exec_missing, setup),
        cmocka_unit_test_setup(test_setup_fails, setup),
        cmocka_unit_test_setup(test_child_short_of_fds, setup),
        cmocka_unit_test_setup(test_group_by_number, setup),
        cmocka_unit_test_setup(test_fds_and_env, setup),
        cmocka_unit_test_setup(test_signals_reset, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
